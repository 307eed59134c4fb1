/**
 * Owners, grants and database-level properties survive a restore, into a new database and over
 * an existing one, checked with catalog queries of their own (not with verify). A role the target
 * lacks is refused before anything changes, or mapped with --map-missing-roles-to; an owner the
 * restoring user cannot give objects to is refused; a restoring user that is not a superuser (as
 * on Azure) works, including for a database it owns itself. Real PostgreSQL and Azurite.
 */
import * as assert from "node:assert/strict";
import { backup } from "../../../datapath/backup/backup";
import { restore, RestoreRefusedError } from "../../../datapath/restore/restore";
import { verifyDatabases } from "../../../datapath/verify/verify";
import { databases, differences, quiet, useDataPath } from "../../support/datapath";
import { PgServer } from "../../support/postgres";

const APP = `
CREATE SCHEMA s AUTHORIZATION app_owner;
CREATE TABLE s.t (id int PRIMARY KEY, v text);
INSERT INTO s.t SELECT g, 'v' || g FROM generate_series(1, 300) g;
CREATE DOMAIN s.code AS text CHECK (VALUE ~ '^[A-Z]+$');
CREATE TYPE s.pair AS (a int, b int);
CREATE TYPE s.mood AS ENUM ('sad', 'happy');
CREATE FUNCTION s.f(x int) RETURNS int LANGUAGE sql AS 'SELECT x';
CREATE SEQUENCE s.seq;
ALTER TABLE s.t OWNER TO app_owner;
ALTER DOMAIN s.code OWNER TO app_owner;
ALTER TYPE s.pair OWNER TO app_owner;
ALTER TYPE s.mood OWNER TO app_owner;
ALTER FUNCTION s.f(int) OWNER TO app_owner;
ALTER SEQUENCE s.seq OWNER TO app_owner;
GRANT USAGE ON SCHEMA s TO reporter;
GRANT SELECT ON s.t TO reporter;
GRANT UPDATE (v) ON s.t TO reporter;
REVOKE EXECUTE ON FUNCTION s.f(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION s.f(int) TO reporter;
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA s GRANT SELECT ON TABLES TO reporter;
ALTER TABLE s.t ENABLE ROW LEVEL SECURITY;
CREATE POLICY readers ON s.t FOR SELECT TO reporter USING (id > 0);
COMMENT ON TABLE s.t IS 'the table';
COMMENT ON COLUMN s.t.v IS 'a value';
COMMENT ON DOMAIN s.code IS 'upper case';
COMMENT ON SCHEMA s IS 'the schema';
`;

/** Database-level properties the restore must carry: pg_dump without --create drops them. */
const PROPERTIES = (db: string) => `
COMMENT ON DATABASE ${db} IS 'the app database';
ALTER DATABASE ${db} SET work_mem = '8MB';
ALTER DATABASE ${db} SET search_path = s, public;
ALTER ROLE reporter IN DATABASE ${db} SET statement_timeout = '5s';
REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM PUBLIC;
GRANT CONNECT ON DATABASE ${db} TO reporter;
ALTER DATABASE ${db} CONNECTION LIMIT 40;
`;

/** Owners, grants, policies, comments and default privileges, as the catalogs hold them. */
async function objectFacts(pg: PgServer, db: string): Promise<Record<string, unknown>> {
  // ACLs as sorted item lists (the order inside an aclitem[] is not meaningful).
  const acl = (col: string) =>
    `(SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(${col}) a)`;
  const r = await pg.query(
    db,
    `SELECT
      (SELECT json_agg(json_build_array(c.relname, c.relkind, pg_get_userbyid(c.relowner), ${acl("c.relacl")}) ORDER BY c.relname)
         FROM pg_class c WHERE c.relnamespace = 's'::regnamespace AND c.relkind IN ('r', 'S')) AS relations,
      (SELECT json_agg(json_build_array(a.attname, ${acl("a.attacl")}) ORDER BY a.attname)
         FROM pg_attribute a WHERE a.attrelid = 's.t'::regclass AND a.attacl IS NOT NULL) AS columns,
      (SELECT json_agg(json_build_array(t.typname, pg_get_userbyid(t.typowner)) ORDER BY t.typname)
         FROM pg_type t WHERE t.typnamespace = 's'::regnamespace AND t.typtype IN ('d', 'e', 'c')
          AND (t.typtype <> 'c' OR t.typrelid IN (SELECT oid FROM pg_class WHERE relkind = 'c'))) AS types,
      (SELECT json_build_array(pg_get_userbyid(p.proowner), ${acl("p.proacl")}) FROM pg_proc p WHERE p.oid = 's.f(int)'::regprocedure) AS function,
      (SELECT json_build_array(pg_get_userbyid(n.nspowner), ${acl("n.nspacl")}) FROM pg_namespace n WHERE n.nspname = 's') AS schema,
      (SELECT json_agg(json_build_array(pg_get_userbyid(d.defaclrole), ${acl("d.defaclacl")})) FROM pg_default_acl d) AS default_privileges,
      (SELECT json_agg(json_build_array(p.polname, p.polroles::regrole[]::text)) FROM pg_policy p) AS policies,
      (SELECT json_agg(d.description ORDER BY d.description) FROM pg_description d
        WHERE d.objoid IN ('s.t'::regclass, 's.code'::regtype, 's'::regnamespace)) AS comments,
      (SELECT relrowsecurity FROM pg_class WHERE oid = 's.t'::regclass) AS rls`,
  );
  return r.rows[0];
}

/** The database's own owner, comment, grants, settings and connection limit. */
async function databaseFacts(pg: PgServer, db: string): Promise<Record<string, unknown>> {
  const r = await pg.query(
    "postgres",
    `SELECT pg_get_userbyid(d.datdba) AS owner, shobj_description(d.oid, 'pg_database') AS comment,
            (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(d.datacl) a) AS acl,
            (SELECT json_agg(json_build_array(coalesce(pg_get_userbyid(NULLIF(s.setrole, 0)), '*'), s.setconfig)
                             ORDER BY s.setrole) FROM pg_db_role_setting s WHERE s.setdatabase = d.oid) AS settings,
            d.datconnlimit AS connlimit
       FROM pg_database d WHERE d.datname = $1`,
    [db],
  );
  return r.rows[0];
}

/** What the application roles can do in `db`: the failure the issue saw was "permission denied". */
async function asRoles(pg: PgServer, db: string): Promise<unknown[]> {
  const r = await pg.query(
    db,
    `SET ROLE app_owner; SELECT count(*)::int AS n FROM s.t; RESET ROLE;
     SET ROLE reporter; SELECT count(*)::int AS n FROM s.t; SELECT s.f(7) AS f; RESET ROLE;`,
  );
  return (r as unknown as { rows: unknown[] }[]).filter((x) => x.rows.length).map((x) => x.rows[0]);
}

describe("datapath restore keeps owners, grants and database properties (real PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("own", async (pg) => {
    await pg.query(
      "postgres",
      `CREATE ROLE app_owner; CREATE ROLE reporter; CREATE ROLE stand_in;
       CREATE ROLE restorer LOGIN CREATEDB CREATEROLE PASSWORD 'restorer-pw'`,
    );
    await pg.query("postgres", "CREATE DATABASE app OWNER app_owner");
    await pg.query("app", APP);
    await pg.query("postgres", PROPERTIES("app"));
  });
  let env: NodeJS.ProcessEnv;

  before(async () => {
    ({ env } = fx.setup());
    await backup({ name: "owned", url: fx.pg.url("app"), env, log: quiet });
  });

  it("records the database's properties and the roles in the manifest", async () => {
    const r = await backup({ name: "owned_again", url: fx.pg.url("app"), env, log: quiet });
    const m = r.manifest;
    assert.deepEqual(m.roles, { owners: ["app_owner"], grantees: ["reporter"] });
    const p = m.database.properties!;
    assert.equal(p.owner, "app_owner");
    assert.equal(p.comment, "the app database");
    assert.equal(p.connectionLimit, 40);
    assert.deepEqual(
      p.acl.map((a) => `${a.sign}${a.grantee}:${a.privilege}`),
      ["-PUBLIC:CONNECT", "-PUBLIC:TEMPORARY", "+reporter:CONNECT"],
    );
    assert.deepEqual(p.settings, [
      { role: null, settings: ["work_mem=8MB", "search_path=s, public"] },
      { role: "reporter", settings: ["statement_timeout=5s"] },
    ]);
  });

  it("into a new database: owners, grants, policies, comments and the database's properties as in the source", async () => {
    const r = await restore({ name: "owned", url: fx.pg.url("app_new"), env, log: quiet });
    assert.deepEqual(r.mappedRoles, {});
    assert.deepEqual(await objectFacts(fx.pg, "app_new"), await objectFacts(fx.pg, "app"));
    assert.deepEqual(await databaseFacts(fx.pg, "app_new"), await databaseFacts(fx.pg, "app"));
    assert.deepEqual(await asRoles(fx.pg, "app_new"), [{ n: 300 }, { n: 300 }, { f: 7 }]);
    const report = await verifyDatabases({
      source: fx.pg.url("app"),
      target: fx.pg.url("app_new"),
    });
    assert.deepEqual(differences(report), []);
  });

  it("over an existing database: owners and grants from the backup, the database keeps its own properties", async () => {
    await fx.pg.query("postgres", "CREATE DATABASE app_live OWNER reporter");
    await fx.pg.query(
      "postgres",
      `COMMENT ON DATABASE app_live IS 'live as it was';
       ALTER DATABASE app_live SET work_mem = '16MB';
       REVOKE CONNECT ON DATABASE app_live FROM PUBLIC;
       GRANT CONNECT ON DATABASE app_live TO app_owner;`,
    );
    await fx.pg.query("app_live", "CREATE TABLE old (v text); INSERT INTO old VALUES ('old')");
    const before = await databaseFacts(fx.pg, "app_live");
    const r = await restore({
      name: "owned",
      url: fx.pg.url("app_live"),
      confirm: "127.0.0.1/app_live",
      env,
      log: quiet,
    });
    assert.match(r.keptDatabase!, /^app_live_pre_restore_/);
    assert.deepEqual(await objectFacts(fx.pg, "app_live"), await objectFacts(fx.pg, "app"));
    assert.deepEqual(await databaseFacts(fx.pg, "app_live"), before);
    assert.deepEqual(await asRoles(fx.pg, "app_live"), [{ n: 300 }, { n: 300 }, { f: 7 }]);
  });

  describe("a role the target lacks", () => {
    let mEnv: NodeJS.ProcessEnv;

    before(async () => {
      ({ env: mEnv } = fx.setup());
      await fx.pg.query("postgres", "CREATE ROLE departed");
      await fx.pg.query("postgres", "CREATE DATABASE app2 OWNER app_owner");
      await fx.pg.query("app2", APP);
      await fx.pg.query(
        "app2",
        `CREATE TABLE s.legacy (id int); ALTER TABLE s.legacy OWNER TO departed;
         GRANT SELECT ON s.t TO departed;
         CREATE POLICY departed_reads ON s.t FOR SELECT TO departed, reporter USING (true);
         ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA s GRANT INSERT ON TABLES TO departed;`,
      );
      await backup({ name: "with_departed", url: fx.pg.url("app2"), env: mEnv, log: quiet });
      await fx.pg.query("postgres", "DROP DATABASE app2");
      await fx.pg.query("postgres", "DROP ROLE departed");
    });

    it("is refused before anything is downloaded or created, naming the role and the way out", async () => {
      const lines: string[] = [];
      await assert.rejects(
        restore({
          name: "with_departed",
          url: fx.pg.url("app_departed"),
          env: mEnv,
          log: (l) => lines.push(l),
        }),
        (e: Error) =>
          e instanceof RestoreRefusedError &&
          /role\(s\) the target server does not have: departed/.test(e.message) &&
          /--map-missing-roles-to ROLE/.test(e.message) &&
          /Nothing was changed/.test(e.message),
      );
      assert.ok(!lines.some((l) => /verified|pg_restore/.test(l)), lines.join("\n"));
      assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("app_departed")));
    });

    it("with --map-missing-roles-to, its objects, grants, policies and default privileges go to that role", async () => {
      const lines: string[] = [];
      const r = await restore({
        name: "with_departed",
        url: fx.pg.url("app_departed"),
        env: mEnv,
        mapMissingRolesTo: "stand_in",
        log: (l) => lines.push(l),
      });
      assert.deepEqual(r.mappedRoles, { departed: "stand_in" });
      assert.ok(
        lines.some((l) =>
          /WARNING: role departed does not exist on the target; stand_in takes its place/.test(l),
        ),
        lines.join("\n"),
      );
      const facts = await fx.pg.query(
        "app_departed",
        `SELECT pg_get_userbyid(relowner) AS legacy_owner,
                has_table_privilege('stand_in', 's.t', 'SELECT') AS can_read,
                (SELECT polroles::regrole[]::text FROM pg_policy WHERE polname = 'departed_reads') AS policy_roles,
                (SELECT defaclacl::text FROM pg_default_acl) AS default_acl
           FROM pg_class WHERE oid = 's.legacy'::regclass`,
      );
      assert.deepEqual(facts.rows[0], {
        legacy_owner: "stand_in",
        can_read: true,
        policy_roles: "{reporter,stand_in}",
        default_acl: "{reporter=r/app_owner,stand_in=a/app_owner}",
      });
    });

    it("a missing stand-in is refused too", async () => {
      await assert.rejects(
        restore({
          name: "with_departed",
          url: fx.pg.url("app_nobody"),
          env: mEnv,
          mapMissingRolesTo: "nobody",
          log: quiet,
        }),
        /--map-missing-roles-to nobody: no such role on the target/,
      );
    });
  });

  describe("restoring as a user that is not a superuser (as Azure's admin is)", () => {
    const asRestorer = (db: string) =>
      fx.pg.url(db).replace(/^postgres:\/\/postgres:[^@]*@/, "postgres://restorer:restorer-pw@");

    it("refuses owners it cannot give objects to, saying what to grant; then, granted, restores them", async () => {
      await assert.rejects(
        restore({ name: "owned", url: asRestorer("app_by_restorer"), env, log: quiet }),
        (e: Error) =>
          e instanceof RestoreRefusedError &&
          /restorer cannot give objects to app_owner: GRANT "app_owner" TO "restorer"/.test(
            e.message,
          ),
      );
      assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("app_by_restorer")));
      // As on Azure, where the admin creates the application's roles and so administers them
      // (PostgreSQL 16+ no longer lets CREATEROLE alone set reporter's settings in a database).
      await fx.pg.query(
        "postgres",
        "GRANT app_owner TO restorer; GRANT reporter TO restorer WITH ADMIN OPTION",
      );
      try {
        await restore({ name: "owned", url: asRestorer("app_by_restorer"), env, log: quiet });
        assert.deepEqual(
          await objectFacts(fx.pg, "app_by_restorer"),
          await objectFacts(fx.pg, "app"),
        );
        assert.deepEqual(
          await databaseFacts(fx.pg, "app_by_restorer"),
          await databaseFacts(fx.pg, "app"),
        );
      } finally {
        await fx.pg.query(
          "postgres",
          "REVOKE app_owner FROM restorer; REVOKE reporter FROM restorer",
        );
      }
    });

    it("without CREATEDB, or over a database another role owns, is refused before anything is downloaded, with the fix", async () => {
      // Before, the first was refused only after the download ("permission denied to create
      // database"), the second after the load, at the rename.
      const refusedWith = (re: RegExp) => (e: Error) =>
        e instanceof RestoreRefusedError &&
        /^refused, nothing was changed:\n {2}/.test(e.message) &&
        re.test(e.message);
      const log: string[] = [];
      await fx.pg.query("postgres", "ALTER ROLE restorer NOCREATEDB");
      try {
        await assert.rejects(
          restore({
            name: "owned",
            url: asRestorer("app_not_created"),
            env,
            log: (l) => log.push(l),
          }),
          refusedWith(
            /the role restorer may not create databases: restore loads the backup into a fresh database\. .* ALTER ROLE "restorer" CREATEDB;/,
          ),
        );
      } finally {
        await fx.pg.query("postgres", "ALTER ROLE restorer CREATEDB");
      }
      assert.ok(!log.some((l) => /download/i.test(l)), log.join("\n"));
      assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("app_not_created")));
      await fx.pg.query("postgres", "CREATE DATABASE owned_by_postgres");
      await assert.rejects(
        restore({
          name: "owned",
          url: asRestorer("owned_by_postgres"),
          confirm: "127.0.0.1/owned_by_postgres",
          env,
          log: quiet,
        }),
        refusedWith(
          /the role restorer does not own database owned_by_postgres \(owned by postgres\): restore keeps it under another name when it swaps the restored one in, and only its owner may rename it\. .* GRANT "postgres" TO "restorer";/,
        ),
      );
      assert.ok(!(await databases(fx.pg)).some((d) => d.startsWith("owned_by_postgres_")));
    });

    it("backup as a user that may not read a table is refused before anything is uploaded, naming it and the grants", async () => {
      // Before, pg_dump stopped at the table ("permission denied for table secret").
      await fx.pg.query("postgres", "CREATE DATABASE admin_app_locked OWNER restorer");
      await fx.pg.query(
        "admin_app_locked",
        `SET ROLE restorer; CREATE TABLE t (id int PRIMARY KEY); RESET ROLE;
         CREATE TABLE secret (id int);`,
      );
      const { env: lEnv, client } = fx.setup();
      await assert.rejects(
        backup({ name: "locked", url: asRestorer("admin_app_locked"), env: lEnv, log: quiet }),
        /^Error: this role \(restorer\) may not read these tables \(in .*admin_app_locked: public\.secret\): connect as their owner, or grant it .* GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "restorer";/,
      );
      const blobs: string[] = [];
      if (await client.exists()) for await (const b of client.listBlobsFlat()) blobs.push(b.name);
      assert.deepEqual(blobs, []);
    });

    it("a database the restoring user owns, as production's is, round-trips without any role setup", async () => {
      await fx.pg.query("postgres", "CREATE DATABASE admin_app OWNER restorer");
      await fx.pg.query(
        "admin_app",
        `SET ROLE restorer; CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;
         COMMENT ON TABLE t IS 'owned by the admin'; RESET ROLE;`,
      );
      const { env: aEnv } = fx.setup();
      await backup({ name: "admin_owned", url: asRestorer("admin_app"), env: aEnv, log: quiet });
      const r = await restore({
        name: "admin_owned",
        url: asRestorer("admin_app_new"),
        env: aEnv,
        log: quiet,
      });
      assert.equal(r.rows, 50);
      const owner = await fx.pg.query(
        "admin_app_new",
        "SELECT pg_get_userbyid(relowner) AS o, obj_description('t'::regclass) AS c FROM pg_class WHERE relname = 't'",
      );
      assert.deepEqual(owner.rows, [{ o: "restorer", c: "owned by the admin" }]);
      assert.deepEqual(
        await databaseFacts(fx.pg, "admin_app_new"),
        await databaseFacts(fx.pg, "admin_app"),
      );
    });
  });
});
