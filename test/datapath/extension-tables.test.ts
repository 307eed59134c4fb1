/**
 * Counts that add up when a database has an extension's configuration table (PostGIS's
 * spatial_ref_sys on the service): pg_dump writes that table's rows (those matching the
 * extension's filter), so backup's progress, its summary and manifest, restore's log and its
 * summary all count it, and all say what they count. The backup summary says what the stored
 * object is ("zstd-compressed custom archive"), not pg_dump's own compression setting.
 *
 * The backup side runs on both majors with a contrib extension whose configuration table the
 * test records the way pg_extension_config_dump does (only an extension script may call it).
 * Such a table cannot be restored (CREATE EXTENSION would not create it), so the full round trip
 * runs on PostGIS, where it is installed.
 */
import * as assert from "node:assert/strict";
import { parseManifest } from "../../datapath/storage/manifest";
import { verifyDatabases } from "../../datapath/verify/verify";
import { CliRun, runCli, useDataPath } from "../support/datapath";
import { EXTENSION_CONFIG_TABLE } from "../support/datapath-schemas";
import { hasExtension, PG_BIN, PG_MAJOR } from "../support/postgres";

const CONFIG_FIXTURE = `${EXTENSION_CONFIG_TABLE}
CREATE TABLE users (id int PRIMARY KEY, email text);
INSERT INTO users SELECT g, 'u' || g || '@example.org' FROM generate_series(1, 20) g;
CREATE TABLE audits (id int PRIMARY KEY);
`;

/** Every "tables N/M" of the progress lines, in order. */
const tableProgress = (stderr: string): [number, number][] =>
  [...stderr.matchAll(/tables (\d+)\/(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);

describe("datapath counts with extension configuration tables (PostgreSQL + Azurite)", function () {
  this.timeout(120_000);
  const fx = useDataPath("ext", async (pg) => {
    await pg.createDatabase("app");
    await pg.query("app", CONFIG_FIXTURE);
  });

  const cli = (args: string[], env: NodeJS.ProcessEnv, db: string): Promise<CliRun> =>
    runCli(args, { ...env, DATABASE_URL: fx.pg.url(db), PG_RECOVERY_PROGRESS_MS: "0" });

  it("backup: progress, summary and manifest count the configuration table, and say so", async () => {
    const { env, client } = fx.setup();
    const b = await cli(["backup", "--name", "ext_adhoc_2024-07-24"], env, "app");
    assert.equal(b.code, 0, b.stderr);

    const progress = tableProgress(b.stderr);
    assert.ok(progress.length > 0, b.stderr);
    for (const [done, total] of progress) assert.ok(done <= total, `tables ${done}/${total}`);
    assert.deepEqual(progress.at(-1), [3, 3], "the last progress line counts every table dumped");

    const described =
      "3 tables of data (1 of them an extension configuration table, public.unit_settings: " +
      "only the rows pg_dump carries)";
    assert.ok(b.stderr.includes(`(${described}, PostgreSQL`), b.stderr);
    // users 20 + unit_settings 1 (the row outside the extension's filter) + audits 0
    assert.ok(b.stdout.includes(`  tables:   ${described}, rows 21\n`), b.stdout);
    assert.match(b.stdout, /\(\d+\.\d (KB|MB) zstd-compressed custom archive\)/);
    assert.doesNotMatch(b.stdout, /, none\)/);

    const manifest = parseManifest(
      (
        await client.getBlobClient("ext_adhoc_2024-07-24.manifest.json").downloadToBuffer()
      ).toString(),
    );
    assert.deepEqual(
      manifest.rowCounts.tables.map((t) => [`${t.schema}.${t.table}`, t.rows, t.extension]),
      [
        ["public.audits", 0, undefined],
        ["public.unit_settings", 1, "cube"],
        ["public.users", 20, undefined],
      ],
    );
  });

  const havePostgis = hasExtension("postgis");
  const skipped = havePostgis
    ? ""
    : ` (skipped: PostGIS is not installed for the PostgreSQL ${PG_MAJOR} under ${PG_BIN}; to ` +
      `run it, use Debian's PostgreSQL with apt-get install postgresql-${PG_MAJOR}-postgis-3 ` +
      `(.ci/run does this for 15, the default; tools/postgres-17.sh's build has no PostGIS))`;
  (havePostgis ? it : it.skip)(
    `PostGIS: backup and restore count spatial_ref_sys alike, and the restored rows verify${skipped}`,
    async () => {
      const { env } = fx.setup();
      await fx.pg.createDatabase("gis");
      await fx.pg.query(
        "gis",
        `CREATE EXTENSION postgis;
         INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
         VALUES (910001, 'local', 910001, 'LOCAL_CS["site grid"]', '+proj=longlat +datum=WGS84');
         CREATE TABLE places (id int PRIMARY KEY, at geography(Point, 4326));
         INSERT INTO places VALUES (1, 'SRID=4326;POINT(-0.1 51.5)');`,
      );
      const b = await cli(["backup", "--name", "gis_adhoc_2024-07-24"], env, "gis");
      assert.equal(b.code, 0, b.stderr);
      assert.deepEqual(tableProgress(b.stderr).at(-1), [2, 2], b.stderr);
      const described =
        "2 tables of data (1 of them an extension configuration table, public.spatial_ref_sys: " +
        "only the rows pg_dump carries)";
      assert.ok(b.stdout.includes(`  tables:   ${described}, rows 2\n`), b.stdout);

      const r = await cli(
        ["restore", "--name", "gis_adhoc_2024-07-24", "--db-name", "gis_copy", "--jobs", "2"],
        env,
        "gis",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /\(2 tables of data\)/);
      assert.deepEqual(tableProgress(r.stderr).at(-1), [2, 2], r.stderr);
      assert.match(r.stderr, /row counts of 2 tables of data \(1 of them .*spatial_ref_sys/);
      assert.ok(r.stdout.includes(`  tables:   ${described}, rows 2\n`), r.stdout);

      const v = await verifyDatabases({ source: fx.pg.url("gis"), target: fx.pg.url("gis_copy") });
      assert.equal(v.verdict, "IDENTICAL", JSON.stringify(v.differences));
    },
  );
});
