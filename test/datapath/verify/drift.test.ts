/**
 * verify against the schema drift a restore can cause besides tables and rows: types (domains
 * with their constraints, composites, enums and their order), owners, comments, privileges and
 * the database's own properties. Each drift alone must be reported, by name, and nothing else.
 */
import assert from "node:assert/strict";
import { verifyDatabases } from "../../../datapath/verify/verify";
import { differences } from "../../support/datapath";
import { PgServer, startPostgres } from "../../support/postgres";

const FIXTURE = `
CREATE SCHEMA app AUTHORIZATION app_owner;
CREATE DOMAIN app.email AS text CHECK (VALUE ~ '@');
CREATE DOMAIN app.positive AS integer NOT NULL DEFAULT 1 CONSTRAINT positive_check CHECK (VALUE > 0);
CREATE TYPE app.address AS (street text, city text);
CREATE TYPE app.pair AS (a int, b int);
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE app.people (id int PRIMARY KEY, email app.email, mood app.mood, home app.address);
INSERT INTO app.people VALUES (1, 'a@b', 'ok', ROW('1 High St', 'Leeds'));
CREATE FUNCTION app.shout(t text) RETURNS text LANGUAGE sql AS 'SELECT upper(t)';
ALTER TABLE app.people OWNER TO app_owner;
ALTER DOMAIN app.email OWNER TO app_owner;
ALTER TYPE app.mood OWNER TO app_owner;
ALTER FUNCTION app.shout(text) OWNER TO app_owner;
GRANT USAGE ON SCHEMA app TO reporter;
GRANT SELECT ON app.people TO reporter;
GRANT UPDATE (mood) ON app.people TO reporter;
REVOKE EXECUTE ON FUNCTION app.shout(text) FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES TO reporter;
COMMENT ON TABLE app.people IS 'people';
COMMENT ON DOMAIN app.email IS 'an address';
CREATE RULE people_soft_delete AS ON DELETE TO app.people DO INSTEAD NOTHING;
COMMENT ON RULE people_soft_delete ON app.people IS 'people are never deleted';
`;

describe("datapath verify: types, owners, comments, privileges, database properties", function () {
  this.timeout(90_000);
  let pg: PgServer;
  let copies = 0;

  before(async () => {
    pg = await startPostgres();
    await pg.query("postgres", "CREATE ROLE app_owner; CREATE ROLE reporter; CREATE ROLE other");
    await pg.createDatabase("orig");
    await pg.query("orig", FIXTURE);
  });

  after(async () => {
    await pg?.stop();
  });

  /** Differences verify reports between the fixture and a copy changed by `mutation`. */
  async function drift(mutation: string, onDatabase = false): Promise<string[]> {
    const db = `copy_${++copies}`;
    await pg.query("postgres", `CREATE DATABASE ${db} TEMPLATE orig`);
    await pg.query(onDatabase ? "postgres" : db, mutation.replace(/\$DB/g, db));
    const report = await verifyDatabases({ source: pg.url("orig"), target: pg.url(db) });
    return differences(report);
  }

  it("finds an unchanged copy identical, and compares every new category", async () => {
    assert.deepEqual(await drift("SELECT 1"), []);
    const again = await verifyDatabases({
      source: pg.url("orig"),
      target: pg.url(`copy_${copies}`),
    });
    const compared = again.schema.compared.source;
    assert.deepEqual(
      [
        compared.domain,
        compared.type,
        compared.enum,
        compared.schema,
        compared.rule,
        compared.comment,
      ],
      [2, 2, 1, 2, 1, 4],
    );
    // Schemas app and public, the table, the function, five types; privileges also the
    // column grant and the default privileges.
    assert.deepEqual([compared.owner, compared.privilege], [9, 11], JSON.stringify(compared));
  });

  const cases: [string, string, string[]][] = [
    [
      "a domain's CHECK dropped",
      "ALTER DOMAIN app.email DROP CONSTRAINT email_check",
      ["schema app.email: domain differs"],
    ],
    [
      "a domain's NOT NULL dropped",
      "ALTER DOMAIN app.positive DROP NOT NULL",
      ["schema app.positive: domain differs"],
    ],
    [
      "an extra domain",
      "CREATE DOMAIN app.extra AS int",
      ["schema app.extra: domain extra on target"],
    ],
    [
      "an extra composite type",
      "CREATE TYPE app.point3 AS (x int, y int, z int)",
      ["schema app.point3: type extra on target"],
    ],
    [
      "a composite's attribute retyped",
      "ALTER TYPE app.pair ALTER ATTRIBUTE b TYPE bigint",
      ["schema app.pair: type differs"],
    ],
    [
      "an extra enum type",
      "CREATE TYPE app.colour AS ENUM ('red')",
      ["schema app.colour: enum extra on target"],
    ],
    [
      "an enum value added out of order",
      "ALTER TYPE app.mood ADD VALUE 'ecstatic' BEFORE 'sad'",
      ["schema app.mood: enum differs"],
    ],
    [
      "a rule dropped",
      "DROP RULE people_soft_delete ON app.people",
      ["schema app.people.people_soft_delete: rule missing on target"],
    ],
    [
      "a rule disabled",
      "ALTER TABLE app.people DISABLE RULE people_soft_delete",
      ["schema app.people.people_soft_delete: rule differs"],
    ],
    [
      "a rule's comment changed",
      "COMMENT ON RULE people_soft_delete ON app.people IS 'kept'",
      ["schema rule app.people.people_soft_delete: comment differs"],
    ],
    [
      "a table's owner changed",
      "ALTER TABLE app.people OWNER TO other",
      // The owner's own privileges travel with it; reporter's grants stay as they were.
      ["schema table app.people: owner differs"],
    ],
    [
      "a function's owner changed",
      "ALTER FUNCTION app.shout(text) OWNER TO other",
      ["schema function app.shout(t text): owner differs"],
    ],
    [
      "a schema's owner changed",
      "ALTER SCHEMA app OWNER TO other",
      ["schema schema app: owner differs"],
    ],
    [
      "a comment added",
      "COMMENT ON COLUMN app.people.email IS 'work address'",
      ["schema column app.people.email: comment extra on target"],
    ],
    [
      "a comment changed",
      "COMMENT ON TABLE app.people IS 'persons'",
      ["schema table app.people: comment differs"],
    ],
    [
      "a comment dropped",
      "COMMENT ON DOMAIN app.email IS NULL",
      ["schema domain app.email: comment missing on target"],
    ],
    [
      "a grant revoked",
      "REVOKE SELECT ON app.people FROM reporter",
      ["schema table app.people: privilege differs"],
    ],
    [
      "an extra grant",
      "GRANT DELETE ON app.people TO reporter",
      ["schema table app.people: privilege differs"],
    ],
    [
      "a default grant put back",
      "GRANT EXECUTE ON FUNCTION app.shout(text) TO PUBLIC",
      ["schema function app.shout(t text): privilege differs"],
    ],
    [
      "a column grant dropped",
      "REVOKE UPDATE (mood) ON app.people FROM reporter",
      ["schema column app.people.mood: privilege missing on target"],
    ],
    [
      "a schema grant dropped",
      "REVOKE USAGE ON SCHEMA app FROM reporter",
      ["schema schema app: privilege differs"],
    ],
    [
      "default privileges dropped",
      "ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app REVOKE SELECT ON TABLES FROM reporter",
      [
        "schema default privileges for role app_owner in schema app on tables: privilege missing on target",
      ],
    ],
  ];
  for (const [what, mutation, expected] of cases) {
    it(`catches ${what}`, async () => {
      assert.deepEqual(await drift(mutation), expected);
    });
  }

  const databaseCases: [string, string, string[]][] = [
    [
      "the database's owner",
      "ALTER DATABASE $DB OWNER TO app_owner",
      ["schema database owner: database differs"],
    ],
    [
      "a database comment",
      "COMMENT ON DATABASE $DB IS 'copy'",
      ["schema database comment: database differs"],
    ],
    [
      "CONNECT revoked from PUBLIC",
      "REVOKE CONNECT ON DATABASE $DB FROM PUBLIC",
      ["schema database privileges: database differs"],
    ],
    [
      "a database setting",
      "ALTER DATABASE $DB SET work_mem = '8MB'",
      ["schema database settings: database differs"],
    ],
    [
      "a role's setting in the database",
      "ALTER ROLE reporter IN DATABASE $DB SET statement_timeout = '5s'",
      ["schema database settings: database differs"],
    ],
    [
      "a connection limit",
      "ALTER DATABASE $DB CONNECTION LIMIT 7",
      ["schema database connection limit: database differs"],
    ],
  ];
  for (const [what, mutation, expected] of databaseCases) {
    it(`catches ${what}`, async () => {
      assert.deepEqual(await drift(mutation, true), expected);
    });
  }

  it("reports them in --json and the readable report alike", async () => {
    const db = `copy_${++copies}`;
    await pg.query("postgres", `CREATE DATABASE ${db} TEMPLATE orig`);
    await pg.query(db, "ALTER DOMAIN app.email DROP CONSTRAINT email_check");
    const report = await verifyDatabases({ source: pg.url("orig"), target: pg.url(db) });
    assert.deepEqual(report.schema.differences, [
      {
        category: "domain",
        key: "app.email",
        change: "differs",
        source: "text constraint email_check CHECK ((VALUE ~ '@'::text))",
        target: "text",
      },
    ]);
    assert.equal(report.identical, false);
  });
});
