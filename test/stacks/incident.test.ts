/**
 * The config door (stacks/incident.ts, stacks/environment.ts): every mistake is reported with
 * the key that is wrong and how to fix it, before anything is declared. Tested on parseIncident
 * directly; through the program in incident-program.test.ts.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- facts and inputs are untyped JSON here */
import * as assert from "node:assert/strict";
import {
  CorruptedIncident,
  Incident,
  IncidentConfigError,
  parseIncident,
  RawConfig,
  ServerGoneIncident,
} from "../../stacks/incident";
import { FACTS, stackFacts } from "../support/pulumi-harness";
import { parseCommand } from "../../contract/data-tool";

const QA_LIVE = FACTS.qa.live;
/** A clock for the door tests: summer, so that offsets matter. */
const DOOR_NOW = new Date("2024-07-24T12:00:00Z");

type Values = RawConfig["values"];

function raw(values: Values, environment: unknown = stackFacts("qa"), extraKeys: string[] = []) {
  return {
    values,
    environment,
    keysSet: [
      ...Object.keys(values),
      ...(environment === undefined ? [] : ["environment"]),
      ...extraKeys,
    ],
  };
}

function door(values: Values, environment?: unknown, now = DOOR_NOW): Incident {
  return parseIncident(raw(values, environment ?? stackFacts("qa")), now);
}

/** server-gone, reviving the server dropped at `deletedAt` as it was at `restoreTime`. */
function revive(incidentDate: string, deletedAt: string, restoreTime: string): Values {
  return { scenario: "server-gone", incidentDate, serverDeletedAt: deletedAt, restoreTime };
}

/** Asserts the door refuses and returns its problems. */
function refused(config: RawConfig, now = DOOR_NOW): string[] {
  try {
    const incident = parseIncident(config, now);
    assert.fail(`expected the door to refuse, got scenario ${incident.scenario}`);
  } catch (e) {
    if (!(e instanceof IncidentConfigError)) throw e;
    assert.ok(e.problems.length > 0, "an IncidentConfigError must carry at least one problem");
    assert.match(e.message, /nothing was changed/);
    return e.problems;
  }
}

const corrupted: Values = {
  scenario: "corrupted",
  incidentDate: "2024-07-24",
  restoreTime: "2024-07-24T05:59:00Z",
};

/** A hint a message must carry: a command or an instruction that fixes it. */
const FIX =
  /pulumi config (set|rm) |Fix it in Pulumi\.<stack>\.yaml|Set pg-recovery:\w+ to|Remove pg-recovery:|Use one of|Drop the|e\.g\.|Choose |see Pulumi\.qa\.yaml for the shape/;

describe("config door: parseIncident", () => {
  describe("accepts a valid incident", () => {
    it("none is the steady state, with the environment facts", () => {
      const incident = door({});
      assert.equal(incident.scenario, "none");
      assert.equal(incident.env.azure.server.name, QA_LIVE);
    });

    it("corrupted: UTC restore time, PTR name from the live server, defaults", () => {
      const incident = door({
        ...corrupted,
        restoreTime: "2024-07-24T06:59:00+01:00",
      }) as CorruptedIncident;
      assert.equal(incident.scenario, "corrupted");
      assert.equal(incident.restoreTime.toISOString(), "2024-07-24T05:59:00.000Z");
      assert.equal(incident.ptrServerName, `${QA_LIVE}-ptr`);
      assert.equal(incident.requiredReviews, 6);
      assert.equal(incident.scaleDown, true);
      assert.equal(incident.retainRestoredServer, true);
      assert.equal(incident.promotion, undefined);
    });

    it("corrupted: promote only with confirm naming the live server and a chosen mode", () => {
      const incident = door({
        ...corrupted,
        promote: "true",
        promotionMode: "whole",
        confirm: QA_LIVE,
      }) as CorruptedIncident;
      assert.deepEqual(incident.promotion, { mode: "whole" });
      // confirm alone authorises nothing
      assert.equal(
        (door({ ...corrupted, confirm: QA_LIVE, promotionMode: "whole" }) as CorruptedIncident)
          .promotion,
        undefined,
      );
    });

    it("corrupted: tables and merge carry the named tables, from a list or a YAML sequence", () => {
      const tables = door({
        ...corrupted,
        promote: "true",
        promotionMode: "tables",
        promotionTables: "public.courses, public.sites",
        confirm: QA_LIVE,
      }) as CorruptedIncident;
      assert.deepEqual(tables.promotion, {
        mode: "tables",
        tables: ["public.courses", "public.sites"],
      });
      const merge = door({
        ...corrupted,
        promote: "true",
        promotionMode: "merge",
        promotionTables: JSON.stringify(["public.courses"]),
        confirm: QA_LIVE,
      }) as CorruptedIncident;
      assert.deepEqual(merge.promotion, { mode: "merge", tables: ["public.courses"] });
      // Named before promoting: the validation job's plan evaluates them.
      const named = door({ ...corrupted, promotionTables: "public.courses" }) as CorruptedIncident;
      assert.equal(named.promotion, undefined);
      assert.deepEqual(named.promotionTables, ["public.courses"]);
    });

    it("corrupted: promotionTables takes names as the plan prints them, mixed-case and quoted", () => {
      const typed = 'public.__EFMigrationsHistory, "Billing"."Invoices", public."a,b"';
      const named = door({ ...corrupted, promotionTables: typed }) as CorruptedIncident;
      assert.deepEqual(named.promotionTables, [
        "public.__EFMigrationsHistory",
        '"Billing"."Invoices"',
        'public."a,b"',
      ]);
      // Each entry reaches the data tool's --tables unchanged, and it reads the same names.
      const parsed = parseCommand(
        "promote",
        named.promotionTables.flatMap((t) => ["--tables", t]),
      );
      assert.deepEqual(parsed.options.tables, named.promotionTables);
    });

    it("requiredReviews 1 and 10 are the bounds", () => {
      assert.equal(
        (door({ ...corrupted, requiredReviews: "1" }) as CorruptedIncident).requiredReviews,
        1,
      );
      assert.equal(
        (door({ ...corrupted, requiredReviews: "10" }) as CorruptedIncident).requiredReviews,
        10,
      );
    });

    it("server-gone without restoreTime rebuilds and restores from storage", () => {
      const incident = door({
        scenario: "server-gone",
        incidentDate: "2024-07-24",
      }) as ServerGoneIncident;
      assert.equal(incident.mode, "rebuild");
      assert.equal(incident.restoreFromStorage, true);
    });

    it("server-gone with restoreTime >= deletion + 10 min, within 5 days, revives", () => {
      const incident = door(
        revive("2024-07-24", "2024-07-24T09:00:00+01:00", "2024-07-24T08:10:00Z"),
      ) as ServerGoneIncident;
      assert.equal(incident.mode, "revive");
      assert.equal(incident.restoreFromStorage, false);
      assert.equal(incident.restoreTime?.toISOString(), "2024-07-24T08:10:00.000Z");
      assert.equal(incident.serverDeletedAt?.toISOString(), "2024-07-24T08:00:00.000Z");
    });
  });

  describe("refuses, naming the key and the fix", () => {
    const envWith = (mutate: (facts: any) => void) => {
      const facts = stackFacts("qa");
      mutate(facts);
      return facts;
    };
    const cases: { title: string; config: RawConfig; now?: Date; key: string; says: RegExp }[] = [
      {
        title: "unknown scenario, with did-you-mean",
        config: raw({ scenario: "corupted" }),
        key: "pg-recovery:scenario",
        says: /"corupted" is not a scenario\. Use one of none, corrupted, server-gone, drill \(did you mean corrupted\?\)/,
      },
      {
        title: "unknown scenario, no close match",
        config: raw({ scenario: "banana" }),
        key: "pg-recovery:scenario",
        says: /"banana" is not a scenario\. Use one of none, corrupted, server-gone, drill: /,
      },
      {
        title: "missing incidentDate",
        config: raw({ ...corrupted, incidentDate: undefined }),
        key: "pg-recovery:incidentDate",
        says: /is required when pg-recovery:scenario is corrupted.*pulumi config set pg-recovery:incidentDate YYYY-MM-DD/,
      },
      {
        title: "malformed incidentDate (day first)",
        config: raw({ ...corrupted, incidentDate: "24/07/2024" }),
        key: "pg-recovery:incidentDate",
        says: /"24\/07\/2024" is not a date in YYYY-MM-DD form \(e\.g\. 2024-07-24\)/,
      },
      {
        title: "malformed incidentDate (no such day)",
        config: raw({ ...corrupted, incidentDate: "2024-02-30" }),
        key: "pg-recovery:incidentDate",
        says: /"2024-02-30" is not a date/,
      },
      {
        title: "restoreTime without an offset",
        config: raw({ ...corrupted, restoreTime: "2024-07-24T06:00:00" }),
        key: "pg-recovery:restoreTime",
        says: /has no UTC offset.*2024-07-24T06:00:00Z.*2024-07-24T05:00:00Z/s,
      },
      {
        title: "restoreTime in the future of now (the offset decides)",
        // 12:30+00:00 is after now (12:00Z); the same wall time at +01:00 (11:30Z) is not.
        config: raw({ ...corrupted, restoreTime: "2024-07-24T12:30:00Z" }),
        key: "pg-recovery:restoreTime",
        says: /2024-07-24T12:30:00Z is in the future \(now is 2024-07-24T12:00:00Z\)\. Check the date and the offset/,
      },
      {
        title: "restoreTime older than any server's retention (35 days before now)",
        // 2024-06-19T11:59:59Z is 35 days and a second before now (2024-07-24T12:00:00Z).
        config: raw({ ...corrupted, restoreTime: "2024-06-19T11:59:59Z" }),
        key: "pg-recovery:restoreTime",
        says: /2024-06-19T11:59:59Z is more than 35 days ago \(now is 2024-07-24T12:00:00Z\): Azure keeps point-in-time backups at most 35 days/,
      },
      {
        title: "restoreTime missing for corrupted",
        config: raw({ ...corrupted, restoreTime: undefined }),
        key: "pg-recovery:restoreTime",
        says: /is required for the corrupted scenario.*pulumi config set pg-recovery:restoreTime 2024-07-24T05:59:00Z/,
      },
      ...["0", "11", "six", "2.5"].map((n) => ({
        title: `requiredReviews ${n}`,
        config: raw({ ...corrupted, requiredReviews: n }),
        key: "pg-recovery:requiredReviews",
        says: new RegExp(`"${n.replace(".", "\\.")}" must be a whole number from 1 to 10`),
      })),
      {
        title: "boolean that is not true/false",
        config: raw({ ...corrupted, scaleDown: "yes" }),
        key: "pg-recovery:scaleDown",
        says: /"yes" must be true or false/,
      },
      {
        title: "missing environment facts",
        config: { values: corrupted, environment: undefined, keysSet: Object.keys(corrupted) },
        key: "pg-recovery:environment",
        says: /is missing\. Every stack file must carry the environment facts/,
      },
      {
        title: "malformed facts: a bad host name",
        config: raw(
          corrupted,
          envWith((f) => (f.ingress.publicHosts[1].host = "QA.Find_Teacher..uk")),
        ),
        key: "pg-recovery:environment.ingress.publicHosts.1.host",
        says: /must be a lowercase DNS host name.*Fix it in Pulumi\.<stack>\.yaml/,
      },
      {
        title: "malformed facts: missing namespace",
        config: raw(
          corrupted,
          envWith((f) => delete f.kubernetes.namespace),
        ),
        key: "pg-recovery:environment.kubernetes.namespace",
        says: /is required \(expected string\)/,
      },
      {
        title: "malformed facts: an unknown top-level key",
        config: raw(
          corrupted,
          envWith((f) => (f.subscription = "x")),
        ),
        key: "pg-recovery:environment.subscription",
        says: /unknown|not a known/,
      },
      {
        title: "malformed facts: an unknown nested key (a typo of an optional fact)",
        config: raw(
          corrupted,
          envWith((f) => {
            f.kubernetes.deployments[0].replica = 12;
          }),
        ),
        key: "pg-recovery:environment.kubernetes.deployments.0.replica",
        says: /unknown|not a known/,
      },
      {
        title: "malformed facts: a wrong type",
        config: raw(
          corrupted,
          envWith((f) => (f.azure.server.storageSizeGB = "32")),
        ),
        key: "pg-recovery:environment.azure.server.storageSizeGB",
        says: /number/,
      },
      {
        title: "promote without confirm",
        config: raw({ ...corrupted, promote: "true" }),
        key: "pg-recovery:confirm",
        says: /pg-recovery:promote is true but pg-recovery:confirm is not set.*overwrites the live database s189t01-ptt-qa-pg\/ptt_qa.*pulumi config set pg-recovery:confirm s189t01-ptt-qa-pg/,
      },
      {
        title: "confirm not matching the live server",
        config: raw({ ...corrupted, promote: "true", confirm: "s189p01-ptt-pd-pg" }),
        key: "pg-recovery:confirm",
        says: /"s189p01-ptt-pd-pg" does not match the live server "s189t01-ptt-qa-pg".*pulumi config set pg-recovery:confirm s189t01-ptt-qa-pg/,
      },
      {
        title: "promote without a promotion mode",
        config: raw({ ...corrupted, promote: "true", confirm: QA_LIVE }),
        key: "pg-recovery:promotionMode",
        says: /pg-recovery:promote is true but pg-recovery:promotionMode is not set.*whole.*tables.*merge.*pulumi config set pg-recovery:promotionMode tables/,
      },
      {
        title: "an unknown promotion mode",
        config: raw({ ...corrupted, promotionMode: "tabels" }),
        key: "pg-recovery:promotionMode",
        says: /"tabels" is not a promotion mode.*did you mean tables\?/,
      },
      {
        title: "tables mode without tables",
        config: raw({ ...corrupted, promote: "true", confirm: QA_LIVE, promotionMode: "tables" }),
        key: "pg-recovery:promotionMode",
        says: /pg-recovery:promotionMode tables needs pg-recovery:promotionTables/,
      },
      {
        title: "merge mode without tables",
        config: raw({ ...corrupted, promotionMode: "merge" }),
        key: "pg-recovery:promotionMode",
        says: /pg-recovery:promotionMode merge needs pg-recovery:promotionTables/,
      },
      {
        title: "whole mode with tables",
        config: raw({ ...corrupted, promotionMode: "whole", promotionTables: "public.courses" }),
        key: "pg-recovery:promotionTables",
        says: /is set but pg-recovery:promotionMode is whole.*would be ignored/,
      },
      {
        title: "a table without its schema",
        config: raw({ ...corrupted, promotionMode: "tables", promotionTables: "courses" }),
        key: "pg-recovery:promotionTables",
        says: /"courses": each entry must be schema.table/,
      },
      {
        title: "an unterminated quote",
        config: raw({ ...corrupted, promotionMode: "tables", promotionTables: 'public."Open' }),
        key: "pg-recovery:promotionTables",
        says: /"public\."Open": each entry must be schema.table/,
      },
      {
        title: "the same table quoted and bare",
        config: raw({
          ...corrupted,
          promotionMode: "merge",
          promotionTables: 'public.a,"public"."a"',
        }),
        key: "pg-recovery:promotionTables",
        says: /names "public"\."a" more than once.*set pg-recovery:promotionTables public\.a`/,
      },
      {
        title: "a table named twice",
        config: raw({
          ...corrupted,
          promotionMode: "merge",
          promotionTables: "public.a,public.b,public.a",
        }),
        key: "pg-recovery:promotionTables",
        says: /names public.a more than once/,
      },
      {
        title: "promotion mode outside the corrupted scenario",
        config: raw({
          scenario: "server-gone",
          incidentDate: "2024-07-24",
          promotionMode: "whole",
        }),
        key: "pg-recovery:promotionMode",
        says: /only applies to the corrupted scenario/,
      },
      {
        title: "promote outside the corrupted scenario",
        config: raw({ scenario: "server-gone", incidentDate: "2024-07-24", promote: "true" }),
        key: "pg-recovery:promote",
        says: /only applies to the corrupted scenario/,
      },
      {
        title: "a pg-recovery: key typo",
        config: raw(corrupted, stackFacts("qa"), ["restoreTim"]),
        key: "pg-recovery:restoreTim",
        says: /is not a pg-recovery setting; did you mean pg-recovery:restoreTime\?.*pulumi config rm pg-recovery:restoreTim/,
      },
      {
        title: "ptrServerName equal to the live server",
        config: raw({ ...corrupted, ptrServerName: QA_LIVE }),
        key: "pg-recovery:ptrServerName",
        says: /must differ from the live server/,
      },
      {
        title: "revive: restoreTime less than 10 minutes after the deletion",
        config: raw(revive("2024-07-24", "2024-07-24T08:00:00Z", "2024-07-24T08:09:59Z")),
        key: "pg-recovery:restoreTime",
        says: /2024-07-24T08:09:59Z is less than 10 minutes after the deletion \(2024-07-24T08:00:00Z\).*Set pg-recovery:restoreTime to 2024-07-24T08:10:00Z or later/,
      },
      {
        title: "revive: the deletion is more than 5 days before now",
        config: raw(revive("2024-07-19", "2024-07-19T11:59:00Z", "2024-07-19T12:30:00Z")),
        key: "pg-recovery:serverDeletedAt",
        says: /2024-07-19T11:59:00Z is more than 5 days ago \(window closed 2024-07-24T11:59:00Z\).*Remove pg-recovery:restoreTime to rebuild/,
      },
      {
        title: "revive: restoreTime without serverDeletedAt",
        config: raw({
          scenario: "server-gone",
          incidentDate: "2024-07-24",
          restoreTime: "2024-07-24T08:10:00Z",
        }),
        key: "pg-recovery:serverDeletedAt",
        says: /is required to revive a dropped server.*RFC 3339 with an offset/,
      },
      {
        title: "promote while the app is not scaled down",
        config: raw({
          ...corrupted,
          promote: "true",
          promotionMode: "whole",
          confirm: QA_LIVE,
          scaleDown: "false",
        }),
        key: "pg-recovery:promote",
        says: /while pg-recovery:scaleDown is false.*pulumi config set pg-recovery:scaleDown true/,
      },
      {
        title: "server-gone: serverDeletedAt without restoreTime is not silently ignored",
        config: raw({
          scenario: "server-gone",
          incidentDate: "2024-07-24",
          serverDeletedAt: "2024-07-24T08:00:00Z",
        }),
        key: "pg-recovery:serverDeletedAt",
        says: /is set but pg-recovery:restoreTime is not.*pulumi config rm pg-recovery:serverDeletedAt/,
      },
    ];

    for (const c of cases) {
      it(c.title, () => {
        const problems = refused(c.config, c.now);
        const problem = problems.find((p) => p.startsWith(c.key) || p.includes(`${c.key} `));
        assert.ok(problem, `no problem names ${c.key}:\n${problems.join("\n")}`);
        assert.match(problem, c.says);
        assert.match(
          problem,
          FIX,
          `the message for ${c.key} does not say how to fix it: ${problem}`,
        );
      });
    }

    it("a restore time 35 days before now is the oldest accepted, measured from the now passed in", () => {
      const config = raw({ ...corrupted, restoreTime: "2024-06-19T12:00:00Z" });
      const incident = parseIncident(config, DOOR_NOW);
      assert.equal(incident.scenario, "corrupted");
      assert.ok(
        refused(config, new Date("2024-07-24T12:00:01Z")).some((p) =>
          /more than 35 days ago/.test(p),
        ),
      );
    });

    it("the 5-day revive window is measured from the now passed in, not the clock", () => {
      const config = raw(revive("2024-07-19", "2024-07-19T11:59:00Z", "2024-07-19T12:30:00Z"));
      // Same config, a clock just inside the window: accepted.
      const incident = parseIncident(
        config,
        new Date("2024-07-24T11:58:00Z"),
      ) as ServerGoneIncident;
      assert.equal(incident.mode, "revive");
    });

    it("reports every problem at once, numbered", () => {
      try {
        parseIncident(
          raw({ scenario: "corrupted", requiredReviews: "11", restoreTime: "2024-07-24T06:00:00" }),
          DOOR_NOW,
        );
        assert.fail("expected a refusal");
      } catch (e) {
        assert.ok(e instanceof IncidentConfigError);
        assert.equal(e.problems.length, 3, e.message);
        assert.match(e.message, /1\. pg-recovery:incidentDate/);
        assert.match(e.message, /2\. pg-recovery:requiredReviews/);
        assert.match(e.message, /3\. pg-recovery:restoreTime/);
      }
    });
  });
});
