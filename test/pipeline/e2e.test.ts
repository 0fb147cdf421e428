import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PipelineEvent } from "../../src/pipeline/index.ts";
import { openStateStore } from "../../src/store/index.ts";
import { type LlmServer, startLlmServer } from "../content/support/llm-server.ts";
import { BIN, runCli, useTempDir } from "../support/cli.ts";
import { createExampleWorkspace, EXAMPLE_SITE } from "../support/example-workspace.ts";
import { type ServerKind, startServer, type TestServer } from "../support/servers/index.ts";
import { tree, withoutManifest } from "../support/tree.ts";

// Spawned CLIs and real servers: on a busy shared machine one test can take minutes; a timeout is not a finding.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// The whole pipeline through the built CLI, against real servers (vsftpd, OpenSSH) and the local LLM wire server:
// export → generate → enrich → deploy, then the bytes on the server are checked.

/** Files of the example site that the pipeline is expected to change (it adds the articles to them). */
const CHANGED_BY_DESIGN = new Set(["sitemap.xml", "robots.txt"]);

describe.each<ServerKind>(["vsftpd-ftp", "sftp"])("pipeline: end to end against %s", (kind) => {
  let server: TestServer;
  let llm: LlmServer;
  beforeAll(async () => {
    [server, llm] = await Promise.all([startServer(kind), startLlmServer()]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), llm?.close()]);
  });

  it("runs export → generate → enrich → deploy; a second run deploys nothing and spends nothing", async () => {
    const { root, env } = await setupWorkspace(server, llm);
    const original = await tree(EXAMPLE_SITE);

    const first = await runCli(["--workspace", root, "run", "example", "--json"], { env, timeoutMs: 180_000 });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const events = parseEvents(first.stdout);
    expect(finished(events).map((e) => [e.step, e.status])).toEqual([
      ["export", "succeeded"],
      ["generate", "succeeded"],
      ["enrich", "succeeded"],
      ["deploy", "succeeded"],
      ["publish", "skipped"], // the example has no wordpress: section
    ]);

    // every article is a page on the server, listed in the sitemap there
    const slugs = (await readdir(join(root, "sites/example/articles"))).map((f) => f.replace(/\.json$/, ""));
    expect(slugs.length).toBe(5);
    const remote = await tree(server.rootDir);
    const sitemap = (await readFile(join(server.rootDir, "sitemap.xml"), "utf8")).toString();
    for (const slug of slugs) {
      const page = remote.get(`blog/${slug}/index.html`);
      expect(page, slug).toBeDefined();
      const article = JSON.parse(await readFile(join(root, "sites/example/articles", `${slug}.json`), "utf8"));
      expect(await readFile(join(server.rootDir, `blog/${slug}/index.html`), "utf8")).toContain(article.title);
      expect(sitemap).toContain(`/blog/${slug}/`);
    }
    // pages the pipeline had no reason to touch are byte-identical to the original
    for (const [path, hash] of original) {
      if (!CHANGED_BY_DESIGN.has(path)) expect(remote.get(path), path).toBe(hash);
    }
    // the server holds exactly output/ (plus the deploy manifest)
    expect(withoutManifest(remote)).toEqual(await tree(join(root, "sites/example/output")));
    const requests = llm.requests.length;
    expect(requests).toBeGreaterThan(0);

    const second = await runCli(["--workspace", root, "run", "example", "--json"], { env, timeoutMs: 180_000 });
    expect(second.code).toBe(0);
    const again = finished(parseEvents(second.stdout));
    const deploy = again.find((e) => e.step === "deploy");
    const generate = again.find((e) => e.step === "generate");
    expect(deploy?.counts).toMatchObject({ uploaded: 0, deleted: 0 });
    expect(generate?.counts).toMatchObject({ generated: 0 });
    expect(generate?.costUsd).toBe(0);
    expect(llm.requests.length).toBe(requests);
    expect(await tree(server.rootDir)).toEqual(remote);

    // both runs are recorded
    const runs = await runCli(["--workspace", root, "runs", "--json"], { env });
    const list = JSON.parse(runs.stdout) as { id: string; status: string; costUsd: number }[];
    expect(list.map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
    expect(list[0]?.costUsd).toBe(0);
    const show = await runCli(["--workspace", root, "runs", "show", list[1]?.id ?? ""], { env });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^example\s+export\s+succeeded/m);
    expect(show.stdout).toMatch(/^\s+deploy\s+succeeded/m);
  });

  it("--dry-run changes nothing on the server or on disk and spends nothing", async () => {
    const { root, env } = await setupWorkspace(server, llm);
    const before = await tree(server.rootDir);
    const requests = llm.requests.length;
    const result = await runCli(["--workspace", root, "run", "example", "--dry-run"], { env, timeoutMs: 120_000 });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^example\s+export\s+succeeded\s+would download \d+ file/m);
    expect(result.stdout).toMatch(/would generate 5 article\(s\)/);
    expect(await tree(server.rootDir)).toEqual(before);
    expect(llm.requests.length).toBe(requests);
    expect(await readdir(join(root, "sites/example"))).toEqual(["site.yaml", "topics.csv"]);
  });

  it("a run SIGKILLed in the middle of deploy, then rerun, leaves the same remote tree as an uninterrupted run", async () => {
    const { root, env } = await setupWorkspace(server, llm, { parallel: 1 });
    // The first run is killed as soon as deploy reports progress, i.e. while files are being uploaded.
    const killed = await runUntil(["--workspace", root, "run", "example", "--json"], env, (event) => {
      return event.type === "step-progress" && event.step === "deploy";
    });
    expect(killed.signal).toBe("SIGKILL");
    expect(killed.sawTrigger).toBe(true);

    const rerun = await runCli(["--workspace", root, "run", "example", "--json"], { env, timeoutMs: 180_000 });
    expect(rerun.code).toBe(0);
    const events = parseEvents(rerun.stdout);
    const takeover = events.find((e) => e.type === "lock-takeover");
    expect(takeover && "message" in takeover && takeover.message).toMatch(/is no longer running; took over its lock/);
    // the same result as an uninterrupted run: exactly output/ on the server, no temporary files left
    const remote = await tree(server.rootDir);
    expect(withoutManifest(remote)).toEqual(await tree(join(root, "sites/example/output")));
    expect([...remote.keys()].filter((p) => /\.tmp|\.part|siteloom-tmp|\.sltmp/i.test(p))).toEqual([]);

    // the killed run is recorded as interrupted
    const store = openStateStore({ stateDir: join(root, ".siteloom") });
    const runs = await store.listRuns();
    await store.close();
    expect(runs.map((r) => r.status)).toEqual(["succeeded", "interrupted"]);
  });

  it.runIf(kind === "vsftpd-ftp")(
    "Ctrl-C in the middle of deploy stops cleanly (exit 130, recorded, unlocked); a rerun completes the deploy",
    async () => {
      const { root, env } = await setupWorkspace(server, llm, { parallel: 1 });
      const stopped = await runUntil(
        ["--workspace", root, "run", "example", "--json"],
        env,
        (event) => event.type === "step-progress" && event.step === "deploy",
        "SIGINT",
      );
      expect(stopped.sawTrigger).toBe(true);
      expect(stopped.code).toBe(130);
      expect(stopped.events.at(-1)).toMatchObject({
        type: "run-finished",
        status: "interrupted",
        errorCode: "ERR_INTERRUPTED",
      });
      const deploy = stopped.events.find((e): e is StepFinished => e.type === "step-finished" && e.step === "deploy");
      expect(deploy?.status).toBe("interrupted");
      // nothing partial at a final name: every file on the server is either the original or the finished output
      // (temp names `.in.<name>.<run>` of uploads cut short may remain: the rerun's export skips them, its deploy
      // removes them)
      const output = await tree(join(root, "sites/example/output"));
      const original = await tree(EXAMPLE_SITE);
      for (const [path, hash] of withoutManifest(await tree(server.rootDir))) {
        if (/(^|\/)\.in\.[^/]+$/.test(path)) continue;
        expect([output.get(path), original.get(path)], path).toContain(hash);
      }
      const store = openStateStore({ stateDir: join(root, ".siteloom") });
      expect(await store.listLocks()).toEqual([]);
      expect((await store.listRuns())[0]?.status).toBe("interrupted");
      await store.close();

      const rerun = await runCli(["--workspace", root, "run", "example", "--json"], { env, timeoutMs: 180_000 });
      expect(rerun.code).toBe(0);
      expect(parseEvents(rerun.stdout).some((e) => e.type === "lock-takeover")).toBe(false);
      expect(withoutManifest(await tree(server.rootDir))).toEqual(await tree(join(root, "sites/example/output")));
    },
  );
});

// --- internal ---

type StepFinished = Extract<PipelineEvent, { type: "step-finished" }>;

async function setupWorkspace(server: TestServer, llm: LlmServer, options: { parallel?: number } = {}) {
  const dir = await useTempDir("siteloom-e2e-");
  const root = join(dir, "ws");
  // the live site: a fresh copy of the example site in the server's root, owned by the server user
  await createExampleWorkspace(root, {
    server,
    llm,
    apiKey: "${E2E_LLM_KEY}",
    folder: () => "",
    editSite: (site) => {
      site.setIn(["deploy", "parallel"], options.parallel ?? 2);
      site.setIn(["deploy", "retryBaseMs"], 20);
      // Without the navigation link, the existing pages have no reason to change: they must stay byte-identical.
      site.setIn(["enrich", "navLink", "enabled"], false);
    },
    editWorkspace: (ws) => ws.set("env", ["E2E_LLM_KEY", ...Object.keys(server.env)]),
  });
  const env = { ...server.env, E2E_LLM_KEY: `sk-test-${Math.random().toString(36).slice(2)}` };
  return { root, env };
}

function parseEvents(stdout: string): PipelineEvent[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as PipelineEvent);
}

function finished(events: PipelineEvent[]): StepFinished[] {
  return events.filter((e): e is StepFinished => e.type === "step-finished");
}

/** Spawns the CLI and sends it `signal` (SIGKILL by default) when an event matches. */
function runUntil(
  args: string[],
  env: Record<string, string>,
  trigger: (event: PipelineEvent) => boolean,
  signal: NodeJS.Signals = "SIGKILL",
): Promise<{ signal: NodeJS.Signals | null; code: number | null; sawTrigger: boolean; events: PipelineEvent[] }> {
  return new Promise((resolve, reject) => {
    const childEnv: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("SITELOOM_")) childEnv[key] = value;
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...childEnv, ...env } as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffer = "";
    let sawTrigger = false;
    const events: PipelineEvent[] = [];
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as PipelineEvent;
        events.push(event);
        if (!sawTrigger && trigger(event)) {
          sawTrigger = true;
          child.kill(signal);
        }
      }
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code, exitSignal) => {
      clearTimeout(timer);
      resolve({ signal: exitSignal, code, sawTrigger, events });
    });
  });
}
