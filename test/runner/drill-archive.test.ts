/**
 * The drill archive (runner/drill/history.ts blobArchive) both ways it reaches the backup
 * container: with the data tool's storage environment (a real Blob API, Azurite), and through
 * the Azure CLI's login (a fake `az` on PATH that keeps blobs in a directory). Either way a
 * record is written once and never overwritten, listed by prefix and read back; the CLI way
 * leaves no temp file behind.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ContainerClient } from "@azure/storage-blob";
import { DATA_TOOL_ENV } from "../../contract/data-tool";
import { blobArchive, DrillArchive } from "../../runner/drill/history";
import { Azurite, startAzurite } from "../support/azurite";
import { testDir } from "../support/tmp";

/** The same story for either way in. */
function archiveBehaves(archive: () => DrillArchive): void {
  it("writes a record once, refuses to overwrite it, lists by prefix and reads it back", async () => {
    const a = archive();
    assert.equal(a.describe(), "stbackups/pg-backups");
    await a.put("drills/qa/2026-12-01.json", '{"drill":1}');
    await a.put("drills/qa/2026-12-02.json", '{"drill":2}');
    await a.put("drills/production/2026-12-01.json", '{"drill":"prod"}');
    await assert.rejects(a.put("drills/qa/2026-12-01.json", '{"drill":"again"}'));
    assert.deepEqual((await a.list("drills/qa/")).sort(), [
      "drills/qa/2026-12-01.json",
      "drills/qa/2026-12-02.json",
    ]);
    assert.equal(await a.get("drills/qa/2026-12-01.json"), '{"drill":1}');
    assert.equal(await a.get("drills/production/2026-12-01.json"), '{"drill":"prod"}');
  });
}

describe("runner: the drill archive", function () {
  this.timeout(60_000);

  describe("with the data tool's storage environment (Azurite)", () => {
    let store: Azurite;
    before(async () => {
      store = await startAzurite();
      await new ContainerClient(store.connectionString, "pg-backups").create();
    });
    after(() => store.stop());
    archiveBehaves(() =>
      blobArchive("stbackups", "pg-backups", {
        [DATA_TOOL_ENV.storageConnectionString]: store.connectionString,
      }),
    );
  });

  describe("through the Azure CLI's login", () => {
    const bin = testDir("pgr-fake-az-");
    const blobs = testDir("pgr-fake-blobs-");
    const calls = path.join(bin, "calls.log");
    const tmp = testDir("pgr-archive-tmp-");
    const saved = { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR };
    before(() => {
      // `az storage blob upload|download|list` over a directory, as the real one answers them.
      fs.writeFileSync(
        path.join(bin, "az"),
        `#!/usr/bin/env bash
echo "$*" >> ${JSON.stringify(calls)}
op=$3; shift 3
while [ $# -gt 0 ]; do
  case $1 in
    --name) name=$2; shift 2 ;;
    --file) file=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --overwrite) overwrite=$2; shift 2 ;;
    *) shift ;;
  esac
done
store=${JSON.stringify(blobs)}
case $op in
  upload)
    if [ -e "$store/$name" ] && [ "$overwrite" = false ]; then
      echo "ERROR: The specified blob already exists." >&2; exit 1
    fi
    mkdir -p "$(dirname "$store/$name")"; cp "$file" "$store/$name" ;;
  download) cp "$store/$name" "$file" ;;
  list)
    sep=""; printf '['
    for f in $(cd "$store" && find . -type f | sed 's#^\\./##' | sort); do
      case $f in "$prefix"*) printf '%s{"name":"%s"}' "$sep" "$f"; sep="," ;; esac
    done
    echo ']' ;;
esac
`,
        { mode: 0o755 },
      );
      process.env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
      process.env.TMPDIR = tmp;
    });
    after(() => {
      process.env.PATH = saved.PATH;
      if (saved.TMPDIR === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved.TMPDIR;
    });

    archiveBehaves(() => blobArchive("stbackups", "pg-backups", {}));

    it("signs in as the CLI's login (no key handled here) and leaves no temp file", () => {
      const log = fs.readFileSync(calls, "utf8").trim().split("\n");
      assert.ok(log.length >= 6, log.join("\n"));
      for (const line of log) {
        assert.match(
          line,
          /--account-name stbackups --container-name pg-backups --auth-mode login/,
        );
      }
      assert.deepEqual(fs.readdirSync(tmp), []);
    });
  });
});
