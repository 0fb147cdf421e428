import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openStateStore, type RunRecord } from "../../src/store/index.ts";
import { type LlmServer, startLlmServer } from "../content/support/llm-server.ts";
import { BIN, runCli, useTempDir } from "../support/cli.ts";
import { createExampleWorkspace } from "../support/example-workspace.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { type PromSample, startPrometheus, type TestPrometheus } from "../support/prometheus.ts";
import { type ServeProcess, startServe } from "../support/serve.ts";
import { freePort, stopChild } from "../support/servers/common.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";

// Real processes on a shared machine: a slow start is not a finding.
vi.setConfig({ testTimeout: 240_000 });

// One PostgreSQL (state and queue), vsftpd (the site's host), the LLM wire server, `siteloom serve` and one
// `siteloom worker`, each with its metrics on a loopback port, and a real Prometheus scraping both every 500 ms.
let pg: TestPostgres;
let ftp: TestServer;
let llm: LlmServer;
let prom: TestPrometheus | undefined;
let serve: ServeProcess | undefined;
let worker: ChildProcess | undefined;
beforeAll(async () => {
  [pg, ftp, llm] = await Promise.all([startPostgres(), startServer("vsftpd-ftp"), startLlmServer({ latencyMs: 40 })]);
});
afterAll(async () => {
  await serve?.stop();
  if (worker) await stopChild(worker, 20_000);
  await Promise.all([prom?.stop(), pg?.stop(), ftp?.stop(), llm?.close()]);
});

describe("metrics: a real Prometheus scrapes serve and a worker during a queued pipeline run", () => {
  it("its HTTP API answers what the run did: files uploaded, cost, runs by status, the API request", async () => {
    const dir = await useTempDir("siteloom-prometheus-");
    const ws = await setupWorkspace(dir);
    const token = (
      await runCli(["--workspace", ws.root, "tokens", "create", "--name", "ops", "--role", "editor"], { env: ws.env })
    ).stdout.trim();
    const [servePort, workerPort] = [await freePort(), await freePort()];
    serve = await startServe(ws.root, ws.env, ["--no-watch", "--metrics-port", String(servePort)]);
    const started = startWorker(ws, ["--metrics-port", String(workerPort)]);
    worker = started.child;
    await started.ready;
    prom = await startPrometheus(
      join(dir, "prometheus"),
      { serve: [`127.0.0.1:${servePort}`], worker: [`127.0.0.1:${workerPort}`] },
      { intervalMs: 500 },
    );
    const p = prom;
    await until(async () => (await p.targets()).filter((t) => t.health === "up").length === 2, "both targets up").catch(
      async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(await p.targets())}`);
      },
    );

    // the console's live view: serve relays the events the worker stores (LISTEN/NOTIFY on the queue's table)
    const live = new AbortController();
    const stream = await fetch(`${serve.url}/console/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: live.signal,
    });
    expect(stream.status).toBe(200);
    let streamed = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        streamed += decoder.decode(chunk, { stream: true });
      }
    })().catch(() => undefined);

    const response = await fetch(`${serve.url}/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ sites: ["shop"] }),
    });
    expect(response.status).toBe(202);
    const { runs } = (await response.json()) as { runs: { id: string }[] };
    const run = await waitForRun(ws, runs[0]!.id);
    expect(run.status).toBe("succeeded");
    await until(async () => streamed.includes('"type":"run-finished"'), "the run's end on the console's stream");
    live.abort();
    await reading;
    const events = streamed
      .split("\n")
      .filter((l) => l.startsWith("data: "))
      .map((l) => JSON.parse(l.slice(6)) as { type: string; runId: string; step?: string });
    expect(events.every((e) => e.runId === run.id)).toBe(true);
    expect(events[0]?.type).toBe("run-started");
    expect(events.at(-1)?.type).toBe("run-finished");
    expect(events.some((e) => e.type === "step-finished" && e.step === "deploy")).toBe(true);

    // what the run did, from the state store and the FTP server
    const store = openStateStore({ stateDir: join(ws.root, ".siteloom"), url: ws.url });
    const steps = await store.listSteps(run.id);
    const costs = await store.listCosts({ site: "shop" });
    await store.close();
    const uploaded = steps.find((s) => s.step === "deploy")?.counts.uploaded ?? 0;
    const cost = costs.reduce((sum, c) => sum + c.costUsd, 0);
    expect(uploaded).toBeGreaterThan(0);
    expect(cost).toBeGreaterThan(0);

    // the same figures through Prometheus's HTTP API, once a scrape after the run's end is in
    const files = await settle(p, 'sum(siteloom_files_uploaded_total{site="shop"})', (v) => v === uploaded);
    expect(files).toBe(uploaded);
    const spent = await settle(p, 'sum(siteloom_llm_cost_usd_total{site="shop"})', (v) => Math.abs(v - cost) < 1e-9);
    expect(spent).toBeCloseTo(cost, 9);
    // the run's end is counted after its last file and cost: wait for a scrape that has it too
    await settle(p, 'sum(siteloom_runs_total{job="worker"})', (v) => v === 1);
    const byStatus = await p.query("sum by (job, status) (siteloom_runs_total)");
    expect(byStatus.map((s) => [s.metric.job, s.metric.status, s.value])).toEqual([["worker", "succeeded", 1]]);
    const steps2 = await p.query('sum by (step) (siteloom_steps_total{site="shop",status="succeeded"})');
    expect(Object.fromEntries(steps2.map((s) => [s.metric.step, s.value]))).toEqual(
      Object.fromEntries(steps.filter((s) => s.status === "succeeded").map((s) => [s.step, 1])),
    );
    // the run was seen while it ran (scraped during the run, not only after it)
    const running = await p.query('max_over_time(siteloom_runs_running{job="worker"}[10m])');
    expect(running.map((s) => s.value)).toEqual([1]);
    // serve counted the request that queued the run, by route template
    const posted = await p.query(
      'sum(siteloom_http_requests_total{job="serve",route="/runs",method="POST",status="202"})',
    );
    expect(posted.map((s) => s.value)).toEqual([1]);
    // the budget gauges come from the shared store: serve reads the worker's spend
    const used = await settle(p, 'siteloom_budget_used_usd{job="serve"}', (v) => Math.abs(v - cost) < 1e-9);
    expect(used).toBeCloseTo(cost, 9);
  });
});

// --- internal ---

interface Workspace {
  root: string;
  url: string;
  env: Record<string, string>;
}

/** The example site as `shop`, deployed to its own folder on vsftpd, with its state and queue in PostgreSQL. */
async function setupWorkspace(dir: string): Promise<Workspace> {
  const root = join(dir, "ws");
  const url = await pg.createDatabase("prometheus");
  await createExampleWorkspace(root, {
    server: ftp,
    llm,
    apiKey: "${PROM_LLM_KEY}",
    sites: ["shop"],
    folder: () => "prom-shop",
    editSite: (site) => site.setIn(["enrich", "navLink", "enabled"], false),
    editWorkspace: (doc) => {
      doc.setIn(["llm", "prices"], { "test-model": { input: 1, output: 2 } });
      doc.set("env", ["PROM_LLM_KEY", "PROM_PG_URL", ...Object.keys(ftp.env)]);
      doc.set("store", { url: "${PROM_PG_URL}" });
      doc.set("queue", { leaseSeconds: 10, retryDelaySeconds: 1, graceSeconds: 10 });
    },
  });
  return { root, url, env: { ...ftp.env, PROM_LLM_KEY: `sk-test-${Date.now()}`, PROM_PG_URL: url } };
}

function startWorker(ws: Workspace, args: string[]): { child: ChildProcess; ready: Promise<void> } {
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("SITELOOM_")) env[key] = value;
  const child = spawn(process.execPath, [BIN, "--workspace", ws.root, "worker", ...args], {
    env: { ...env, ...ws.env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes("taking jobs")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`worker exited ${code}: ${out}`)));
  });
  return { child, ready };
}

async function waitForRun(ws: Workspace, id: string): Promise<RunRecord> {
  const store = openStateStore({ stateDir: join(ws.root, ".siteloom"), url: ws.url });
  try {
    for (const end = Date.now() + 180_000; Date.now() < end; await sleep(300)) {
      const run = await store.getRun(id);
      if (run && run.status !== "running") return run;
    }
    throw new Error(`run ${id} did not finish`);
  } finally {
    await store.close();
  }
}

/** Polls `check` until it is true (30 s at most). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const end = Date.now() + 30_000; Date.now() < end; await sleep(250)) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** The query's single value once `done` accepts it (scrapes come every 500 ms), else the last value seen. */
async function settle(p: TestPrometheus, expr: string, done: (value: number) => boolean): Promise<number | undefined> {
  let last: PromSample[] = [];
  for (const end = Date.now() + 30_000; Date.now() < end; await sleep(250)) {
    last = await p.query(expr);
    if (last.length === 1 && done(last[0]!.value)) return last[0]!.value;
  }
  return last[0]?.value;
}
