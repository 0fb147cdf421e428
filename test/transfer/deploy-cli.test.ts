import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, runCli, useTempDir } from "../support/cli.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { snapshot, writeSite } from "./helpers/trees.ts";

// The built `siteloom` binary against a real vsftpd: summary and --json, failures and exit code 5, kill -9 and
// rerun, a watcher that never sees a partial file under a final name, and connection resets through a proxy.
describe("transfer: siteloom deploy/export CLI against vsftpd", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer("vsftpd-ftp");
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function workspace(remote: Record<string, unknown> = {}, deploy: Record<string, unknown> = {}) {
    const ws = await useTempDir("siteloom-cli-");
    // the server's password is read through ${SITELOOM_TEST_PW_...}, which the workspace must declare
    await writeFile(
      join(ws, "siteloom.yaml"),
      `environment: staging\nenv: ${JSON.stringify(Object.keys(server.env))}\n`,
    );
    const site = join(ws, "sites/demo");
    await mkdir(site, { recursive: true });
    const yaml = {
      remote: { ...server.remoteConfig, ...remote },
      deploy: { parallel: 4, retryBaseMs: 20, retryMaxMs: 200, ...deploy },
    };
    await writeFile(join(site, "site.yaml"), JSON.stringify(yaml, null, 2));
    return { ws, output: join(site, "output"), exportDir: join(site, "export") };
  }
  const cli = (ws: string, args: string[]) => runCli(args, { cwd: ws, env: server.env, timeoutMs: 120_000 });

  async function clearRemote() {
    const { rm } = await import("node:fs/promises");
    for (const name of await readdir(server.rootDir)) await rm(join(server.rootDir, name), { recursive: true });
  }

  it("deploys with a summary, is a no-op the second time, reports --json statistics, and exports back", async () => {
    await clearRemote();
    const { ws, output, exportDir } = await workspace();
    await writeSite(output);
    const first = await cli(ws, ["deploy", "demo"]);
    expect(first.stderr).toContain(`deploy demo (env staging) → ftp://${server.user}@127.0.0.1:${server.port}`);
    expect(first.stdout).toMatch(/uploaded 13 file\(s\).*failed 0/);
    expect(first.code).toBe(0);
    expect(first.stdout + first.stderr).not.toContain(server.password);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));

    const again = await cli(ws, ["deploy", "demo", "--json"]);
    expect(again.code).toBe(0);
    const json = JSON.parse(again.stdout);
    expect(json.mode).toBe("manifest");
    expect(json.stats).toMatchObject({ uploaded: 0, skipped: 13, failed: 0, deleted: 0, connections: 1 });
    expect(Object.keys(json.stats).sort()).toEqual(
      [
        "bytes",
        "connections",
        "deleted",
        "dirsCreated",
        "durationMs",
        "failed",
        "retries",
        "skipped",
        "throughput",
        "uploaded",
      ].sort(),
    );

    const exported = await cli(ws, ["export", "demo"]);
    expect(exported.code).toBe(0);
    expect(await snapshot(exportDir)).toEqual(await snapshot(output));
  });

  it("--dry-run lists deletions first; --purge needs --yes without a terminal", async () => {
    await clearRemote();
    const { ws, output } = await workspace();
    await writeSite(output);
    expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
    await writeFile(join(server.rootDir, "stray.html"), "x");
    await server.own(join(server.rootDir, "stray.html"));
    await writeFile(join(output, "fresh.html"), "fresh");
    const dry = await cli(ws, ["deploy", "demo", "--dry-run", "--delete", "--verify"]);
    expect(dry.code).toBe(0);
    const lines = dry.stdout.trim().split("\n");
    expect(lines[0]).toBe("would delete   stray.html");
    expect(lines).toContain("would upload   fresh.html (5 B, missing on the server)");
    expect(readFileSync(join(server.rootDir, "stray.html"), "utf8")).toBe("x");

    const refused = await cli(ws, ["deploy", "demo", "--purge"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--purge .* add --yes/);
    const purged = await cli(ws, ["deploy", "demo", "--purge", "--yes"]);
    expect(purged.code).toBe(0);
    expect(purged.stderr).toContain("delete stray.html");
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
  });

  it("exits 5 naming each failed file with the server's reply, and a rerun fixes only that", async () => {
    await clearRemote();
    const { ws, output } = await workspace({}, { retries: 1 });
    await writeSite(output);
    // a directory on the server where a page should go: the rename over it is refused
    await mkdir(join(server.rootDir, "about us.html"), { recursive: true });
    await writeFile(join(server.rootDir, "about us.html/keep"), "k");
    await server.own(join(server.rootDir, "about us.html"));
    const failed = await cli(ws, ["deploy", "demo"]);
    expect(failed.code).toBe(5);
    expect(failed.stderr).toMatch(/error: 1 file\(s\) failed to deploy/);
    expect(failed.stderr).toMatch(/about us\.html: .*\b5\d\d\b/);
    const { rm } = await import("node:fs/promises");
    await rm(join(server.rootDir, "about us.html"), { recursive: true });
    const rerun = await cli(ws, ["deploy", "demo", "--json"]);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout).stats.uploaded).toBe(1);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
  });

  it("kill -9 in the middle of a deploy, then rerun: only the rest is uploaded; no final name ever holds a partial file", async () => {
    await clearRemote();
    const { ws, output } = await workspace({}, { parallel: 2 });
    const extra: Record<string, Buffer> = {};
    for (let i = 0; i < 150; i++) extra[`pages/p${i}.html`] = Buffer.alloc(20_000 + i, 65 + (i % 26));
    for (let i = 0; i < 6; i++) extra[`media/v${i}.bin`] = Buffer.alloc(2_000_000, i + 1);
    await writeSite(output, { extra });
    const expected = (await snapshot(output)).files;
    const watcher = _watch(server.rootDir, expected);
    const child = spawn(process.execPath, [BIN, "deploy", "demo"], {
      cwd: ws,
      env: { ...process.env, ...server.env },
      stdio: "ignore",
    });
    const journal = join(ws, ".siteloom/deploy/demo.staging.journal");
    await _until(async () => (await readFile(journal, "utf8").catch(() => "")).split("\n").length > 40, child);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const before = Object.keys((await snapshot(server.rootDir)).files).filter((p) => !/\.in\./.test(p)).length;
    expect(before).toBeGreaterThan(10);
    expect(before).toBeLessThan(Object.keys(expected).length);

    const rerun = await cli(ws, ["deploy", "demo", "--json"]);
    expect(rerun.code).toBe(0);
    const result = JSON.parse(rerun.stdout);
    expect(result.resumed).toBeGreaterThan(10);
    expect(result.stats.uploaded).toBeLessThan(Object.keys(expected).length - 10);
    const problems = await watcher.stop();
    expect(problems).toEqual([]);
    expect(watcher.checks()).toBeGreaterThan(0);
    expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
  });

  describe("through a fault proxy", () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: server.port }, ftp: true });
    });
    afterAll(async () => {
      await proxy?.close();
    });

    it("connections reset mid-transfer and mid-session still end byte-identical", async () => {
      await clearRemote();
      const { ws, output } = await workspace({ port: proxy.port }, { parallel: 3, retries: 8 });
      await writeSite(output, { bigBytes: 4_000_000 });
      expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
      // a new version of the big file and of some pages, uploaded while connections keep dying: every data connection
      // dies after 1 MB (so the 4 MB file needs several resumed attempts), and two sessions die mid-conversation
      await writeSite(output, { bigBytes: 4_000_001, extra: { "index.html": "<p>v2</p>", "blog/index.html": "v2" } });
      proxy.addFault({ on: "data", afterBytes: 1_000_000, action: "reset", times: 40 });
      proxy.addFault({ on: "control", afterBytes: 700, action: "reset", times: 2 });
      const result = await cli(ws, ["deploy", "demo", "--json"]);
      expect(result.code, result.stderr).toBe(0);
      expect(proxy.stats.resets).toBeGreaterThanOrEqual(3);
      const json = JSON.parse(result.stdout);
      expect(json.stats.retries + json.stats.connections).toBeGreaterThan(3);
      expect(json.notes.join("\n")).toMatch(/media\/big\.bin: resumed at byte/);
      expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
    });
  });
});

// --- internal ---

/** Polls the server directory; every file under a final name must be exactly its complete version. */
function _watch(root: string, expected: Record<string, string>) {
  const problems: string[] = [];
  let checks = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const walk = async (rel: string): Promise<void> => {
        const names = await readdir(rel ? join(root, rel) : root).catch(() => [] as string[]);
        for (const name of names) {
          const path = rel ? `${rel}/${name}` : name;
          if (path === ".siteloom" || /^\.in\./.test(name)) continue;
          const st = await lstat(join(root, path)).catch(() => undefined);
          if (st === undefined) continue;
          if (st.isDirectory()) {
            await walk(path);
            continue;
          }
          const data = await readFile(join(root, path)).catch(() => undefined);
          if (data === undefined) continue;
          checks++;
          const hash = createHash("sha256").update(data).digest("hex");
          if (hash !== expected[path]) problems.push(`${path}: ${data.length} bytes, not the complete file`);
        }
      };
      await walk("");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    checks: () => checks,
    async stop() {
      running = false;
      await loop;
      return problems;
    },
  };
}

async function _until(condition: () => Promise<boolean>, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await condition()) return;
    if (child.exitCode !== null) throw new Error("the deploy finished before it could be killed");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the deploy made no progress");
}
