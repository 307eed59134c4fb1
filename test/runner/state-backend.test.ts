/**
 * runner/state-backend.ts: where a file:// backend keeps its state, as the Pulumi CLI resolves
 * it, and which of its metadata files a killed write tore.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { testDir } from "../support/tmp";
import { backendUrl, fileBackendDir, tornSidecars } from "../../runner/state-backend";

describe("runner: the file:// state backend", () => {
  describe("fileBackendDir", () => {
    it("an absolute path, without the URL's options", () => {
      assert.equal(fileBackendDir("file:///srv/state?no_tmp_dir=true", "/work"), "/srv/state");
    });
    it("~ is the home directory; a relative path is the project directory's", () => {
      assert.equal(fileBackendDir("file://~/state", "/work"), path.join(os.homedir(), "state"));
      assert.equal(fileBackendDir("file://~", "/work"), os.homedir());
      assert.equal(fileBackendDir("file://state", "/work/project"), "/work/project/state");
    });
    it("no directory for other backends, or none", () => {
      assert.equal(fileBackendDir("azblob://tfstate", "/work"), undefined);
      assert.equal(fileBackendDir("https://api.pulumi.com", "/work"), undefined);
      assert.equal(fileBackendDir(undefined, "/work"), undefined);
    });
  });

  describe("backendUrl, in the CLI's order", () => {
    const home = testDir("pgr-pulumi-home-");
    fs.writeFileSync(
      path.join(home, "credentials.json"),
      JSON.stringify({ current: "file:///from-login" }),
    );
    it("PULUMI_BACKEND_URL first", () => {
      const env = { PULUMI_BACKEND_URL: "file:///from-env", PULUMI_HOME: home };
      assert.equal(backendUrl("file:///from-project", env), "file:///from-env");
    });
    it("then the project's backend.url", () => {
      assert.equal(
        backendUrl("file:///from-project", { PULUMI_HOME: home }),
        "file:///from-project",
      );
    });
    it("then the stored login; none without one", () => {
      assert.equal(backendUrl(undefined, { PULUMI_HOME: home }), "file:///from-login");
      const empty = testDir("pgr-pulumi-home-");
      assert.equal(backendUrl(undefined, { PULUMI_HOME: empty }), undefined);
    });
  });

  describe("tornSidecars", () => {
    it("lists exactly the metadata files that are not a whole JSON object, anywhere under .pulumi", () => {
      const dir = testDir("pgr-state-");
      const at = (rel: string, text: string) => {
        const f = path.join(dir, ".pulumi", rel);
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, text);
        return f;
      };
      at("meta.yaml.attrs", '{"md5":"a"}\n');
      at("stacks/p/s.json", "");
      at("stacks/p/s.json.attrs", '{"user.content_type":"application/json"}');
      const empty = at("stacks/p/t.json.attrs", "");
      const cut = at("history/p/s/s-1.history.json.attrs", '{"user.cache_control":"","user.con');
      const notObject = at("locks/p/s/x.json.attrs", "[]");
      at("stacks/p/notes.txt", "");
      assert.deepEqual(tornSidecars(dir), [cut, notObject, empty].sort());
    });
    it("nothing for a directory with no state yet", () => {
      assert.deepEqual(tornSidecars(path.join(os.tmpdir(), "pgr-no-such-state")), []);
    });
  });
});
