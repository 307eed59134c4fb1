/**
 * The maintenance page's nginx config, served by a real nginx on loopback: every path and
 * method answers 503 with Retry-After and the page; the health port answers 200.
 */
import * as assert from "node:assert/strict";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  HEALTH_PORT,
  MAINTENANCE_PORT,
  maintenanceHtml,
  nginxConfig,
} from "../../components/maintenance-page";
import { MAINTENANCE_DEFAULTS } from "../../components/maintenance-mode";
import { freePort } from "../support/postgres";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => fs.existsSync(p));

describe("maintenance page served by nginx", function () {
  let dir: string;
  let nginx: ChildProcess;
  let port: number;
  let healthPort: number;

  before(async function () {
    if (!NGINX) {
      if (process.env.CI) throw new Error("nginx is not installed; .ci/run installs nginx-light");
      console.warn(
        "    (skipped: nginx is not installed; enable with: apt-get install nginx-light)",
      );
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgr-nginx-"));
    port = await freePort();
    healthPort = await freePort();
    const page = MAINTENANCE_DEFAULTS.page;
    // The same config the ConfigMap carries, with the container ports moved to free ones.
    const server = nginxConfig(page)
      .replace(
        `listen ${MAINTENANCE_PORT} default_server`,
        `listen 127.0.0.1:${port} default_server`,
      )
      .replace(`listen ${HEALTH_PORT}`, `listen 127.0.0.1:${healthPort}`);
    fs.writeFileSync(
      path.join(dir, "nginx.conf"),
      `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  ${server}
}
`,
    );
    execFileSync(NGINX, ["-t", "-c", path.join(dir, "nginx.conf"), "-p", dir], { stdio: "pipe" });
    nginx = spawn(NGINX, ["-c", path.join(dir, "nginx.conf"), "-p", dir], { stdio: "ignore" });
    for (let i = 0; i < 50; i++) {
      try {
        await fetch(`http://127.0.0.1:${healthPort}/healthz`);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error("nginx did not start");
  });

  after(() => {
    nginx?.kill("SIGQUIT");
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [method, route] of [
    ["GET", "/"],
    ["GET", "/courses/find?q=maths"],
    ["POST", "/api/v3/sessions"],
    ["HEAD", "/maintenance.html"],
  ] as const) {
    it(`answers ${method} ${route} with 503, Retry-After and no caching`, async () => {
      const res = await fetch(`http://127.0.0.1:${port}${route}`, {
        method,
        body: method === "POST" ? "{}" : undefined,
        headers: { Host: "www.find-postgraduate-teacher-training.service.gov.uk" },
      });
      assert.equal(res.status, 503);
      assert.equal(
        res.headers.get("retry-after"),
        String(MAINTENANCE_DEFAULTS.page.retryAfterSeconds),
      );
      assert.equal(res.headers.get("cache-control"), "no-store");
      if (method === "GET") assert.match(await res.text(), /Sorry, the service is unavailable/);
    });
  }

  it("answers the health probe on its own port with 200", async () => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    assert.equal(res.status, 200);
    const page = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(page.status, 503, "the public port never reports healthy");
  });

  it("keeps nginx's special characters in the page text literal", () => {
    const conf = nginxConfig({ title: "It's $host", message: "a \\ b", retryAfterSeconds: 1 });
    assert.doesNotMatch(conf.split("return 503")[1], /\$host|It's/);
    assert.match(conf, /It&#39;s &#36;host/);
  });

  it("escapes the page text", () => {
    const html = maintenanceHtml({ title: "<b>x</b>", message: "a & b", retryAfterSeconds: 1 });
    assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/);
    assert.match(html, /a &amp; b/);
  });
});
