/**
 * The self-managed (`file://`) state backend, and the one way a killed update breaks it.
 *
 * The storage library under Pulumi's file backend (gocloud.dev fileblob) writes each state file
 * to a temporary name and renames it, so the state itself is always whole; but it writes the
 * file's metadata sidecar (`<file>.attrs`: a content type and a checksum) in place. A process
 * killed while that sidecar is written leaves it empty or cut short, and from then on every
 * `pulumi` command on the backend (even `pulumi stack ls`) fails with a bare "EOF". The library
 * reads a missing sidecar as "no metadata", so removing a torn one loses nothing.
 *
 * Other backends (Pulumi Cloud, azblob://, s3://) keep metadata with the object and are not
 * affected; for them there is no directory to look at.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const SIDECAR = ".attrs";

/**
 * The state directory of a `file://` backend URL, resolved as the Pulumi CLI does (`~` is the
 * home directory, a relative path is relative to the project directory, the query is options);
 * undefined for any other backend, or none.
 */
export function fileBackendDir(url: string | undefined, workDir: string): string | undefined {
  if (!url || !url.startsWith("file://")) return undefined;
  let p = url.slice("file://".length).split("?")[0];
  if (p === "~" || p.startsWith("~/")) p = path.join(os.homedir(), p.slice(1));
  return path.resolve(workDir, p);
}

/**
 * The backend URL the Pulumi CLI would use from this project directory, in its order:
 * PULUMI_BACKEND_URL, the project's `backend.url`, then the login stored in credentials.json.
 */
export function backendUrl(
  projectBackendUrl: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (env.PULUMI_BACKEND_URL) return env.PULUMI_BACKEND_URL;
  if (projectBackendUrl) return projectBackendUrl;
  const home = env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(home, "credentials.json"), "utf8")) as {
      current?: unknown;
    };
    return typeof creds.current === "string" && creds.current ? creds.current : undefined;
  } catch {
    return undefined;
  }
}

/** Sidecars under `<dir>/.pulumi` that are not a whole JSON object: left by a killed write. */
export function tornSidecars(dir: string): string[] {
  const torn: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return; // no state here yet
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith(SIDECAR) && !wholeJsonObject(p)) torn.push(p);
    }
  };
  walk(path.join(dir, ".pulumi"));
  return torn.sort();
}

function wholeJsonObject(file: string): boolean {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
