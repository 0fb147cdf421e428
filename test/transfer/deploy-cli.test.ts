import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStateStore } from "../../src/store/index.ts";
import { DEPLOY_JOURNAL_NAMESPACE } from "../../src/transfer/deploy/state.ts";
import { BIN, runCli } from "../support/cli.ts";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { snapshot, writeSite } from "./helpers/trees.ts";
import { demoWorkspace } from "./helpers/workspace.ts";

const TRACE_HOOK = fileURLToPath(new URL("../support/module-trace.mjs", import.meta.url));

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

  const workspace = (remote: Record<string, unknown> = {}, deploy: Record<string, unknown> = {}) =>
    demoWorkspace("siteloom-cli-", server.env, {
      remote: { ...server.remoteConfig, ...remote },
      deploy: { parallel: 4, retryBaseMs: 20, retryMaxMs: 200, ...deploy },
    });
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

    // the no-op runs with a module-load trace: a deploy loads the transfer code, not the LLM SDKs or the HTML tools
    // (basic-ftp is bundled into dist/, so the trace's own check is the SQLite driver, a native package never bundled)
    const trace = join(ws, "modules.trace");
    const again = await runCli(["deploy", "demo", "--json"], {
      cwd: ws,
      env: { ...server.env, NODE_OPTIONS: `--import ${TRACE_HOOK}`, SITELOOM_TEST_MODULE_TRACE: trace },
    });
    expect(again.code).toBe(0);
    const packages = (await readFile(trace, "utf8")).split("\n").filter((u) => u.includes("/node_modules/"));
    expect(packages.some((u) => u.includes("/node_modules/better-sqlite3/"))).toBe(true);
    expect(packages.filter((u) => /\/node_modules\/(ai|@ai-sdk\/[^/]+|sanitize-html|marked|parse5)\//.test(u))).toEqual(
      [],
    );
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
    // the journal is in the workspace's state store: killed once it holds 40 records
    const store = openStateStore({ stateDir: join(ws, ".siteloom") });
    const journalled = async () =>
      (await store.listDocuments<unknown[]>(DEPLOY_JOURNAL_NAMESPACE, "demo.staging/")).flatMap((d) => d.value).length;
    await _until(async () => (await journalled().catch(() => 0)) > 40, child).finally(() => store.close());
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

    it("a staged manifest whose rename into place fails is written anew, and its temp copy is removed", async () => {
      await clearRemote();
      // the rename of the staged manifest (its temp name has no retry tag) is refused: RNFR passes, RNTO is a 500
      const refusing = await startFaultProxy({
        target: { host: "127.0.0.1", port: server.port },
        ftp: true,
        mishandlePipelined: {
          how: "refuse",
          when: (commands) => commands.some((c) => /^RNFR .*\.in\.manifest\.json\.[0-9a-f]+\r\n$/.test(c)),
        },
      });
      try {
        const { ws, output } = await workspace({ port: refusing.port });
        await writeSite(output);
        expect((await cli(ws, ["deploy", "demo"])).code).toBe(0);
        await writeSite(output, { extra: { "index.html": "<p>v5</p>" } });
        const result = await cli(ws, ["deploy", "demo", "--json"]);
        expect(result.code, result.stderr).toBe(0);
        expect(refusing.stats.mishandled).toBeGreaterThan(0);
        expect(await snapshot(server.rootDir)).toEqual(await snapshot(output));
        const manifest = JSON.parse(await readFile(join(server.rootDir, ".siteloom/manifest.json"), "utf8"));
        expect(manifest.id).toBe(JSON.parse(result.stdout).manifestId);
        expect((await readdir(join(server.rootDir, ".siteloom"))).filter((n) => n.startsWith(".in."))).toEqual([]);
      } finally {
        await refusing.close();
      }
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
