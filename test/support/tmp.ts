/**
 * Temp directories for the tests' own files (journal homes, fake bins, drill output), removed
 * when the test process exits: hundreds of runs otherwise leave hundreds of directories in the
 * temp directory. A process killed by a signal still leaves its own.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const made: string[] = [];

function removeAll(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A fresh directory under the temp directory named `prefix` + random, removed at exit. */
export function testDir(prefix: string): string {
  if (made.length === 0) process.once("exit", removeAll);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
