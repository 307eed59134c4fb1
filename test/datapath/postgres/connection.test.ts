/** Connection handling: URLs, overrides, redaction, libpq variables, --confirm names. */
import * as assert from "node:assert/strict";
import {
  confirmationFor,
  describeTarget,
  libpqEnv,
  parsePgUrl,
  redactUrl,
  resolveTarget,
  serverLabel,
} from "../../../datapath/postgres/connection";

describe("datapath connection", () => {
  const url =
    "postgres://app%40user:p%40ss%3Aw0rd@s189p01-ptt-pd-pg.postgres.database.azure.com:5432/ptt_production?sslmode=require";

  it("parses, overrides and redacts without leaking the password", () => {
    const t = resolveTarget(
      { dbEnv: "MY_URL", dbHost: "s189p01-ptt-pd-pg-ptr.postgres.database.azure.com" },
      { MY_URL: url },
    );
    assert.equal(t.user, "app@user");
    assert.equal(t.password, "p@ss:w0rd");
    assert.equal(t.host, "s189p01-ptt-pd-pg-ptr.postgres.database.azure.com");
    assert.equal(t.sslmode, "require");
    const shown = describeTarget(t);
    assert.ok(!shown.includes("w0rd"), shown);
    assert.match(shown, /app%40user:\*\*\*@s189p01-ptt-pd-pg-ptr/);
    assert.ok(!redactUrl(url).includes("w0rd"));
    assert.ok(!redactUrl("postgres://u@h/db?password=hunter2").includes("hunter2"));
    assert.equal(resolveTarget({ url, dbName: "other" }).database, "other");
    assert.throws(() => resolveTarget({}, {}), /DATABASE_URL is not set/);
    assert.throws(
      () => parsePgUrl("host=x password=secret"),
      (e: Error) => !e.message.includes("secret"),
    );
  });

  it("puts the connection in libpq variables, replacing inherited ones", () => {
    const env = libpqEnv(parsePgUrl(url), { PGHOST: "elsewhere", PGSERVICE: "x", PATH: "/bin" });
    assert.deepEqual(
      [
        env.PGHOST,
        env.PGPORT,
        env.PGUSER,
        env.PGPASSWORD,
        env.PGDATABASE,
        env.PGSSLMODE,
        env.PGSERVICE,
        env.PATH,
      ],
      [
        "s189p01-ptt-pd-pg.postgres.database.azure.com",
        "5432",
        "app@user",
        "p@ss:w0rd",
        "ptt_production",
        "require",
        undefined,
        "/bin",
      ],
    );
  });

  it("names the server for --confirm by its first DNS label, or the whole IP", () => {
    assert.equal(serverLabel("s189p01-ptt-pd-pg.postgres.database.azure.com"), "s189p01-ptt-pd-pg");
    assert.equal(serverLabel("127.0.0.1"), "127.0.0.1");
    assert.equal(serverLabel("::1"), "::1");
    assert.equal(confirmationFor(parsePgUrl(url)), "s189p01-ptt-pd-pg/ptt_production");
  });
});
