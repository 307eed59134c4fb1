/**
 * verify and extension configuration tables (pg_extension_config_dump): the extension's objects
 * are compared by its version, but the rows pg_dump carries for its configuration tables (those
 * matching the extension's filter) are data like any other, and a difference there is reported.
 *
 * The mechanism is driven with a contrib extension on both majors: pg_extension_config_dump may
 * only be called from an extension script, so the test records the table in pg_extension the way
 * that function does. PostGIS's spatial_ref_sys, the real case, runs where PostGIS is installed.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { verifyDatabases, VerifyReport } from "../../../datapath/verify/verify";
import { EXTENSION_CONFIG_TABLE } from "../../support/datapath-schemas";
import { hasExtension, PG_BIN, PG_MAJOR, PgServer, startPostgres } from "../../support/postgres";

const execFileAsync = promisify(execFile);

const CONFIG_FIXTURE = `${EXTENSION_CONFIG_TABLE}
CREATE TABLE plain (id int PRIMARY KEY);
`;

describe("datapath verify: extension configuration tables", function () {
  this.timeout(90_000);
  let pg: PgServer;
  let copies = 0;

  async function copy(mutation?: string): Promise<string> {
    const name = `copy_${++copies}`;
    await pg.query("postgres", `CREATE DATABASE ${name} TEMPLATE orig`);
    if (mutation) await pg.query(name, mutation);
    return name;
  }

  const verify = (source: string, target: string): Promise<VerifyReport> =>
    verifyDatabases({ source: pg.url(source), target: pg.url(target) });

  before(async () => {
    pg = await startPostgres();
    await pg.createDatabase("orig");
    await pg.query("orig", CONFIG_FIXTURE);
  });

  after(async () => {
    await pg?.stop();
  });

  it("an identical copy is IDENTICAL, and the report says which rows of the table it compared", async () => {
    const r = await verify("orig", await copy());
    assert.equal(r.verdict, "IDENTICAL", JSON.stringify(r.differences));
    const t = r.tables.find((x) => x.table === "public.unit_settings");
    assert.ok(t, "the configuration table is compared");
    assert.deepEqual(t.extensionConfig, { extension: "cube", condition: "WHERE NOT builtin" });
    assert.equal(t.source!.rows, 1, "only the rows the extension's filter lets pg_dump carry");
    // Everything else about the extension's objects is still compared by its version alone.
    assert.equal(r.schema.differences.length, 0);
  });

  it("a row added to the configuration table is a difference naming the table and the extension", async () => {
    const r = await verify(
      "orig",
      await copy("INSERT INTO unit_settings VALUES (1002, 'another site setting', false)"),
    );
    assert.equal(r.identical, false);
    const d = r.differences.find((x) => x.object === "public.unit_settings");
    assert.ok(d, JSON.stringify(r.differences));
    assert.equal(d.section, "rows");
    assert.match(d.detail, /source has 1 rows, target has 2/);
    assert.match(d.detail, /configuration table of extension cube: the rows WHERE NOT builtin/);
  });

  it("a changed value in a carried row is a content difference", async () => {
    const r = await verify(
      "orig",
      await copy("UPDATE unit_settings SET name = 'renamed' WHERE id = 1001"),
    );
    assert.deepEqual(
      r.differences.map((d) => [d.section, d.object]),
      [["content", "public.unit_settings"]],
    );
  });

  it("rows outside the extension's filter (pg_dump does not carry them) are not compared", async () => {
    const r = await verify(
      "orig",
      await copy("INSERT INTO unit_settings VALUES (51, 'builtin 51', true)"),
    );
    assert.equal(r.verdict, "IDENTICAL", JSON.stringify(r.differences));
  });

  it("a configuration sequence's position is compared too", async () => {
    const seq = `CREATE SEQUENCE unit_seq; ALTER EXTENSION cube ADD SEQUENCE unit_seq;
      UPDATE pg_catalog.pg_extension SET extconfig = extconfig || 'public.unit_seq'::pg_catalog.regclass::pg_catalog.oid,
             extcondition = extcondition || ''::text WHERE extname = 'cube';`;
    const src = await copy(seq);
    const r = await verify(src, await copy(`${seq} SELECT setval('unit_seq', 40)`));
    assert.deepEqual(
      r.differences.map((d) => [d.section, d.object]),
      [["sequences", "public.unit_seq"]],
    );
  });

  const havePostgis = hasExtension("postgis");
  const postgisSkip =
    `PostGIS is not installed for the PostgreSQL ${PG_MAJOR} under ${PG_BIN}; to run it, use ` +
    `Debian's PostgreSQL with apt-get install postgresql-${PG_MAJOR}-postgis-3 (.ci/run does ` +
    `this for 15, the default; tools/postgres-17.sh's build has no PostGIS)`;
  (havePostgis ? it : it.skip)(
    `PostGIS: a row added to spatial_ref_sys is carried by pg_dump and found by verify${havePostgis ? "" : ` (skipped: ${postgisSkip})`}`,
    async () => {
      await pg.createDatabase("gis");
      await pg.query(
        "gis",
        `CREATE EXTENSION postgis;
         INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
         VALUES (910001, 'local', 910001, 'LOCAL_CS["site grid"]', '+proj=longlat +datum=WGS84');`,
      );
      // What the runbook's backup and restore do: pg_dump -Fc, pg_restore into a fresh database.
      const dump = path.join(pg.dataDir, "..", "gis.dump");
      await execFileAsync(path.join(PG_BIN, "pg_dump"), ["-Fc", "-f", dump, pg.url("gis")]);
      await pg.createDatabase("gis_restored");
      await execFileAsync(path.join(PG_BIN, "pg_restore"), ["-d", pg.url("gis_restored"), dump]);
      const same = await verify("gis", "gis_restored");
      assert.equal(same.verdict, "IDENTICAL", JSON.stringify(same.differences));
      const srs = same.tables.find((t) => t.table === "public.spatial_ref_sys");
      assert.equal(srs?.extensionConfig?.extension, "postgis");
      assert.equal(srs?.source?.rows, 1, "only the site's own row is carried by pg_dump");

      await pg.query(
        "gis_restored",
        `INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
         VALUES (910002, 'local', 910002, 'LOCAL_CS["other grid"]', '+proj=longlat +datum=WGS84')`,
      );
      const added = await verify("gis", "gis_restored");
      assert.deepEqual(
        added.differences.map((d) => [d.section, d.object]),
        [["rows", "public.spatial_ref_sys"]],
      );
    },
  );
});
