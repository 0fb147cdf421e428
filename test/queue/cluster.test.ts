import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import { openStateStore, type StateStore } from "../../src/store/index.ts";
import { type LlmServer, startLlmServer } from "../content/support/llm-server.ts";
import { readLedger, testApiKey, testLlmConfig, writeTestWorkspace } from "../content/support/workspace.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startServer, type TestServer } from "../support/servers/index.ts";
import { tree, withoutManifest } from "../support/tree.ts";
import { type Proc, spawnCli, startServe, waitForRuns } from "./support.ts";

// Spawned CLIs and real servers on a busy shared machine: a timeout is not a finding.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// A local cluster on loopback: one PostgreSQL (state of the queue), `siteloom serve` and `siteloom worker` processes
// sharing one workspace folder, vsftpd as the host of every site and the local LLM wire server. Sites are copies of
// the example site, each in its own folder on the FTP server.

/** The monthly budget of the budget test: about five of the sixteen articles. */
const BUDGET = 0.1;

const EXAMPLE_SITE = fileURLToPath(new URL("../../examples/site/", import.meta.url));

describe("queue: workers on a local cluster", () => {
  let pg: TestPostgres;
  let ftp: TestServer;
  let llm: LlmServer;
  const procs: Proc[] = [];
  beforeAll(async () => {
    [pg, ftp, llm] = await Promise.all([startPostgres(), startServer("vsftpd-ftp"), startLlmServer({ latencyMs: 40 })]);
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all([pg?.stop(), ftp?.stop(), llm?.close()]);
  });

  it("runs enqueued through the API on three workers: each site deployed once, byte-identical to a run on one machine; follow, status, SIGTERM", async () => {
    const ws = await setupWorkspace(pg, ftp, llm, "api", ["ref", "a1", "a2", "a3", "a4", "a5", "a6"], {
      schedule: { cron: "0 3 1 1 *", tz: "Europe/Paris" },
      pgStore: true,
    });
    // the reference: the same site run on one machine, in-process
    const ref = await runCli(["--workspace", ws.root, "run", "ref"], { env: ws.env, timeoutMs: 180_000 });
    expect(ref.code, ref.stderr).toBe(0);
    const reference = await tree(join(ftp.rootDir, ws.remote("ref")));

    const token = (
      await runCli(["--workspace", ws.root, "tokens", "create", "--name", "ops", "--role", "admin"], { env: ws.env })
    ).stdout.trim();
    const [api1, api2] = await Promise.all([startServeIn(ws, procs), startServeIn(ws, procs)]);
    const workers = [startWorker(ws, procs), startWorker(ws, procs), startWorker(ws, procs, ["--concurrency", "2"])];
    await Promise.all(workers.map((w) => w.waitFor(/taking jobs/)));

    const sites = ["a1", "a2", "a3", "a4", "a5", "a6"];
    // the workspace's schedule (Jan 1st, 03:00 in Paris: never during the test) is registered by the workers
    const scheduled = await runCli(["--workspace", ws.root, "schedule", "list", "--json"], { env: ws.env });
    expect(scheduled.code, scheduled.stderr).toBe(0);
    expect(JSON.parse(scheduled.stdout)).toMatchObject([
      { cron: "0 3 1 1 *", tz: "Europe/Paris", sites: ["a1", "a2", "a3", "a4", "a5", "a6", "ref"] },
    ]);
    const response = await fetch(`${api1.url}/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ sites }),
    });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { queued: boolean; runs: { id: string; site: string }[] };
    expect(body.queued).toBe(true);
    expect(body.runs.map((r) => r.site)).toEqual(sites);

    // follow one run from the CLI while the workers run it
    const follow = await runCli(["--workspace", ws.root, "runs", "--follow", body.runs[0]!.id], {
      env: ws.env,
      timeoutMs: 180_000,
    });
    expect(follow.code, follow.stderr).toBe(0);
    expect(follow.stderr).toMatch(/a1 deploy: succeeded/);
    expect(follow.stderr).toContain(`run ${body.runs[0]!.id} succeeded`);

    const runs = await waitForRuns(
      pg,
      ws.db,
      body.runs.map((r) => r.id),
    );
    expect(runs.map((r) => r.status)).toEqual(sites.map(() => "succeeded"));
    // the runs were spread over the workers
    expect(new Set(runs.map((r) => r.worker)).size).toBeGreaterThan(1);

    for (const site of sites) {
      await expectDeployed(ftp, ws, site, reference);
    }
    // each site ran (and deployed) exactly once, recorded like a run on one machine
    const store = ws.store();
    const recorded = await store.listRuns({ limit: 100 });
    for (const site of sites) {
      const mine = recorded.filter((r) => r.sites.includes(site));
      expect(
        mine.map((r) => r.status),
        site,
      ).toEqual(["succeeded"]);
      const deploy = (await store.listSteps(mine[0]!.id)).find((s) => s.step === "deploy");
      expect(deploy?.status).toBe("succeeded");
    }
    expect(await store.listLocks()).toEqual([]);
    await store.close();

    // status shows the three workers, the queue's completed jobs and no lock
    const status = await runCli(["--workspace", ws.root, "status", "--json"], { env: ws.env });
    expect(status.code, status.stderr).toBe(0);
    const st = JSON.parse(status.stdout) as {
      workers: { pid: number }[];
      queues: { name: string; completed: number; active: number }[];
      schedules: { cron: string; tz: string; sites: string[] }[];
    };
    expect(st.schedules).toMatchObject([{ cron: "0 3 1 1 *", tz: "Europe/Paris" }]);
    expect(st.workers.map((w) => w.pid).sort()).toEqual(workers.map((w) => w.child.pid).sort());
    expect(st.queues.find((q) => q.name === "siteloom-run")).toMatchObject({ completed: 6, active: 0 });

    // the second API instance sees the same runs (shared store and queue)
    const listed = await fetch(`${api2.url}/runs`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await listed.json()) as { runs: unknown[] }).runs.length).toBe(7);

    // SIGTERM: stop taking jobs, exit 0
    for (const w of workers) w.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((w) => w.exited)), workers.map((w) => w.output()).join("\n---\n")).toEqual([
      0, 0, 0,
    ]);
    expect(workers[0]!.output()).toMatch(/stopped: \d+ job\(s\) done/);
  });

  it("kill -9 of a worker mid-generation and another mid-deploy: every site completes, byte-identical, no temp file left", async () => {
    const sites = ["k1", "k2", "k3", "k4"];
    const ws = await setupWorkspace(pg, ftp, llm, "kill", sites, { parallel: 1, pgStore: true });

    const workers = [startWorker(ws, procs), startWorker(ws, procs), startWorker(ws, procs)];
    await Promise.all(workers.map((w) => w.waitFor(/taking jobs/)));
    const enqueue = await runCli(["--workspace", ws.root, "run", ...sites, "--queue", "--json"], { env: ws.env });
    expect(enqueue.code, enqueue.stderr).toBe(0);
    const ids = (JSON.parse(enqueue.stdout) as { runId: string }[]).map((r) => r.runId);

    // kill the worker of the first run seen generating, then the worker of the first run seen deploying
    const killed = new Set<number>();
    for (const step of ["generate", "deploy"]) {
      const pid = await waitForStep(pg, ws.db, step, killed);
      process.kill(pid, "SIGKILL");
      killed.add(pid);
    }
    expect(killed.size).toBe(2);
    const runs = await waitForRuns(pg, ws.db, ids);
    expect(runs.map((r) => r.status)).toEqual(sites.map(() => "succeeded"));
    expect(runs.some((r) => r.attempts > 1)).toBe(true);

    const store = ws.store();
    let paidTwice = 0;
    for (const site of sites) {
      await expectDeployed(ftp, ws, site, undefined);
      // every topic is paid for and written once, except the calls the killed worker had settled but not yet
      // written (the generate step keeps no record of them: they are generated again; see docs/many-machines.md)
      const articles = (await store.listCosts({ site })).filter((c) => c.ok && c.step === "article");
      const perTopic = new Map<string, number>();
      for (const c of articles) perTopic.set(c.topicId, (perTopic.get(c.topicId) ?? 0) + 1);
      paidTwice += [...perTopic.values()].filter((n) => n > 1).length;
      expect(Math.max(...perTopic.values()), site).toBeLessThanOrEqual(2);
      expect(perTopic.size, site).toBe(5);
    }
    await store.close();
    // at most the calls in flight in the killed generation (llm.concurrency 4)
    expect(paidTwice).toBeLessThanOrEqual(4);
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  });

  // with only the queue in PostgreSQL, and with every piece of state there (the store's pool, the workspace-wide
  // model-call slots held during a call). The second hung a run for minutes in 4 of ~6 runs until the model-call
  // limiter stopped keeping a lost connection checked out (e484701); a restart no longer ends a process that holds
  // a connection (test/store/pg-restart.test.ts). It passed 24 runs since, 3 of them in whole-file runs at load 15.
  const pgDown = (state: string, pgStore: boolean) =>
    [
      `PostgreSQL stopped for 10 s while workers run (${state} state): they reconnect and finish; no run lost or recorded twice`,
      async () => {
        const sites = ["p1", "p2", "p3", "p4"];
        const ws = await setupWorkspace(pg, ftp, llm, `pgdown_${pgStore ? "pg" : "lite"}`, sites, {
          parallel: 1,
          pgStore,
        });
        const workers = [startWorker(ws, procs), startWorker(ws, procs)];
        await Promise.all(workers.map((w) => w.waitFor(/taking jobs/)));
        const enqueue = await runCli(["--workspace", ws.root, "run", ...sites, "--queue", "--json"], { env: ws.env });
        expect(enqueue.code, enqueue.stderr).toBe(0);
        const ids = (JSON.parse(enqueue.stdout) as { runId: string }[]).map((r) => r.runId);
        await waitForStep(pg, ws.db, "generate", new Set());
        await pg.restart({ downMs: 10_000 });

        const runs = await waitForRuns(pg, ws.db, ids, undefined, workers);
        expect(runs.map((r) => r.status)).toEqual(sites.map(() => "succeeded"));
        const store = ws.store();
        const recorded = await store.listRuns({ limit: 100 });
        expect(recorded.map((r) => r.id).sort()).toEqual([...ids].sort());
        expect(recorded.every((r) => r.status === "succeeded")).toBe(true);
        await store.close();
        for (const site of sites) await expectDeployed(ftp, ws, site, undefined);
        for (const w of workers) w.child.kill("SIGTERM");
        expect(await Promise.all(workers.map((w) => w.exited)), workers.map((w) => w.output()).join("\n---\n")).toEqual(
          [0, 0],
        );
      },
    ] as const;
  it(...pgDown("SQLite", false));
  it(...pgDown("PostgreSQL", true));

  it("30 sites enqueued through two API instances on three workers: each deployed once, byte for byte as a run on one machine", async () => {
    const sites = Array.from({ length: 30 }, (_, i) => `s${String(i + 1).padStart(2, "0")}`);
    // one topic a site, with its publication date, so the pages are the same bytes whoever builds them
    const topics = (site: string) =>
      `topic,keywords,publish_at\nA guide for ${site} visitors,"visitors, guide",2026-01-05\n`;
    const cluster = await setupWorkspace(pg, ftp, llm, "thirty", sites, { pgStore: true, topics });
    const single = await setupWorkspace(pg, ftp, llm, "thirtyone", sites, { topics });

    // the reference: the 30 sites run on one machine, in-process, state in its SQLite file
    const t0 = performance.now();
    const one = await runCli(["--workspace", single.root, "run", "--all"], { env: single.env, timeoutMs: 400_000 });
    expect(one.code, one.stderr).toBe(0);
    const singleSeconds = (performance.now() - t0) / 1000;

    const token = (
      await runCli(["--workspace", cluster.root, "tokens", "create", "--name", "ops", "--role", "admin"], {
        env: cluster.env,
      })
    ).stdout.trim();
    const apis = await Promise.all([startServeIn(cluster, procs), startServeIn(cluster, procs)]);
    const workers = [1, 2, 3].map(() => startWorker(cluster, procs));
    await Promise.all(workers.map((w) => w.waitFor(/taking jobs/)));
    const t1 = performance.now();
    // half the sites through each API instance
    const ids: string[] = [];
    for (const [n, api] of apis.entries()) {
      const response = await fetch(`${api.url}/runs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ sites: sites.slice(n * 15, n * 15 + 15) }),
      });
      expect(response.status).toBe(202);
      ids.push(...((await response.json()) as { runs: { id: string }[] }).runs.map((r) => r.id));
    }
    expect(ids).toHaveLength(30);
    const runs = await waitForRuns(pg, cluster.db, ids, 540_000, workers);
    // the figure docs/many-machines.md quotes (timings are reported, never asserted)
    console.log(
      `30 sites, whole pipeline: one machine ${singleSeconds.toFixed(0)} s, cluster ${((performance.now() - t1) / 1000).toFixed(0)} s`,
    );
    for (const w of workers) w.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((w) => w.exited)), workers.map((w) => w.output()).join("\n---\n")).toEqual([
      0, 0, 0,
    ]);

    // every site ran once: one run in the queue and one run record each, succeeded, deploy included
    expect(runs.map((r) => r.site).sort()).toEqual(sites);
    expect(runs.map((r) => r.status)).toEqual(sites.map(() => "succeeded"));
    expect(new Set(runs.map((r) => r.worker)).size).toBeGreaterThan(1);
    const store = cluster.store();
    const recorded = await store.listRuns({ limit: 100 });
    expect(recorded.map((r) => r.sites[0]).sort()).toEqual(sites);
    for (const run of recorded) {
      expect(run.status, run.sites[0]).toBe("succeeded");
      const steps = await store.listSteps(run.id);
      expect(
        steps.map((s) => `${s.step} ${s.status}`),
        run.sites[0],
      ).toEqual(["export succeeded", "generate succeeded", "enrich succeeded", "deploy succeeded", "publish skipped"]);
    }
    expect(await store.listLocks()).toEqual([]);
    await store.close();
    // each article paid for once
    const paid = (
      await pg.query<{ site: string; topic_id: string }>(
        "SELECT site, topic_id FROM cost_ledger WHERE ok = 1 AND step = 'article'",
        [],
        cluster.db,
      )
    ).map((e) => `${e.site} ${e.topic_id}`);
    expect(paid.sort()).toEqual([...new Set(paid)].sort());
    expect(paid).toHaveLength(30);

    // every remote tree: the site's output, no temp file, and byte for byte the tree the one-machine run deployed
    for (const site of sites) {
      await expectDeployed(ftp, cluster, site, undefined);
      const mine = withoutManifest(await tree(join(ftp.rootDir, cluster.remote(site))));
      const reference = withoutManifest(await tree(join(ftp.rootDir, single.remote(site))));
      expect(
        [...mine.keys()].some((path) => path.startsWith("blog/")),
        site,
      ).toBe(true);
      expect(mine, site).toEqual(reference);
    }
  }, 900_000);

  it("16 generations on 4 workers against a budget that fits part of them: the ledger stays within it, the refused runs end with exit code 6", async () => {
    const dir = await useTempDir("siteloom-queue-budget-");
    const url = await pg.createDatabase("queue_budget");
    const sites = Array.from({ length: 16 }, (_, i) => `b${String(i + 1).padStart(2, "0")}`);
    for (const site of sites) {
      await writeTestWorkspace(dir, {
        site,
        llm: testLlmConfig(llm.url, { concurrency: 1, maxOutputTokens: 4096 }),
        budgets: { maxMonthlyCost: BUDGET },
        topics: `topic\n${site} topic\n`,
        workspace: {
          env: ["LLM_KEY", "QUEUE_PG_URL"],
          queue: { url: "${QUEUE_PG_URL}", leaseSeconds: 10, retryDelaySeconds: 1 },
        },
      });
    }
    // every call reports 1,000 + 4,000 tokens at $1/$2 per 1M: $0.009 a call, two calls an article
    llm.script(...Array.from({ length: 200 }, () => ({ usage: { input: 1000, output: 4000 } })));
    const ws: Workspace = {
      root: dir,
      db: "queue_budget",
      env: { LLM_KEY: testApiKey(), QUEUE_PG_URL: url },
      remote: (s) => s,
      store: () => openStateStore({ stateDir: join(dir, ".siteloom") }),
    };
    const workers = [1, 2, 3, 4].map(() => startWorker(ws, procs));
    await Promise.all(workers.map((w) => w.waitFor(/taking jobs/)));
    const enqueue = await runCli(["--workspace", dir, "run", ...sites, "--steps", "generate", "--queue", "--json"], {
      env: ws.env,
    });
    expect(enqueue.code, enqueue.stderr).toBe(0);
    const ids = (JSON.parse(enqueue.stdout) as { runId: string }[]).map((r) => r.runId);
    const runs = await waitForRuns(pg, ws.db, ids);
    llm.reset();

    const spent = (await readLedger(dir)).reduce((sum, e) => sum + e.costUsd, 0);
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(BUDGET + 1e-9);
    const succeeded = runs.filter((r) => r.status === "succeeded");
    const refused = runs.filter((r) => r.status === "failed");
    expect(succeeded.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(succeeded.length + refused.length).toBe(16);
    expect(refused.every((r) => r.error_code === "ERR_BUDGET_EXCEEDED")).toBe(true);
    // following a refused run fails with its error code, in --json mode too (the events go to stdout)
    for (const mode of [[], ["--json"]]) {
      const followed = await runCli(["--workspace", dir, "runs", "--follow", refused[0]!.run_id, ...mode], {
        env: ws.env,
      });
      expect(followed.code, followed.stderr).toBe(6);
      expect(followed.stderr).toMatch(/error: run \S+ failed: /);
    }
    // the run records say why, as siteloom run would
    const store = ws.store();
    for (const run of refused) {
      const steps = await store.listSteps(run.run_id);
      expect(steps.find((s) => s.step === "generate")?.errorCode).toBe("ERR_BUDGET_EXCEEDED");
    }
    await store.close();
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  });
});

// --- internal ---

interface Workspace {
  root: string;
  env: Record<string, string>;
  /** The queue's database name. */
  db: string;
  /** Opens the workspace's state store (SQLite file or PostgreSQL). */
  store(): StateStore;
  remote(site: string): string;
}

async function setupWorkspace(
  pg: TestPostgres,
  ftp: TestServer,
  llm: LlmServer,
  name: string,
  sites: string[],
  options: {
    parallel?: number;
    schedule?: Record<string, unknown>;
    pgStore?: boolean;
    /** Each site's topics.csv. @default the example's */
    topics?: (site: string) => string;
  } = {},
): Promise<Workspace> {
  const dir = await useTempDir("siteloom-queue-");
  const root = join(dir, "ws");
  const init = await runCli(["init", root, "--example"]);
  expect(init.code, init.stderr).toBe(0);
  const db = `queue_${name}`;
  const url = await pg.createDatabase(db);
  const example = await readFile(join(root, "sites/example/site.yaml"), "utf8");
  const topics = await readFile(join(root, "sites/example/topics.csv"), "utf8");
  for (const site of sites) {
    const remoteDir = join(ftp.rootDir, `${name}-${site}`);
    await rm(remoteDir, { recursive: true, force: true });
    await mkdir(remoteDir, { recursive: true });
    await cp(EXAMPLE_SITE, remoteDir, { recursive: true });
    const doc = parseDocument(example);
    doc.set("remote", { ...ftp.remoteConfig, root: `/${name}-${site}` });
    doc.setIn(["deploy", "parallel"], options.parallel ?? 2);
    doc.setIn(["deploy", "retryBaseMs"], 20);
    doc.setIn(["enrich", "navLink", "enabled"], false);
    doc.setIn(["content", "minWords"], 120);
    doc.setIn(["content", "maxWords"], 300);
    await mkdir(join(root, "sites", site), { recursive: true });
    await writeFile(join(root, "sites", site, "site.yaml"), doc.toString());
    await writeFile(join(root, "sites", site, "topics.csv"), options.topics?.(site) ?? topics);
  }
  await ftp.own(ftp.rootDir);
  await rm(join(root, "sites/example"), { recursive: true, force: true });
  const wsFile = join(root, "siteloom.yaml");
  const wsDoc = parseDocument(await readFile(wsFile, "utf8"));
  wsDoc.set("llm", { provider: "openai", model: "test-model", baseUrl: llm.url, apiKey: "${QUEUE_LLM_KEY}" });
  wsDoc.set("env", ["QUEUE_LLM_KEY", "QUEUE_PG_URL", ...Object.keys(ftp.env)]);
  // either every piece of state in PostgreSQL (store.url; the queue goes beside it), or the run records in the
  // workspace's SQLite file shared by the processes of this machine and only the queue in PostgreSQL (queue.url)
  const queue = { leaseSeconds: 10, retryDelaySeconds: 1, graceSeconds: 20 };
  if (options.pgStore) {
    wsDoc.set("store", { url: "${QUEUE_PG_URL}" });
    wsDoc.set("queue", queue);
  } else wsDoc.set("queue", { url: "${QUEUE_PG_URL}", ...queue });
  if (options.schedule) wsDoc.set("schedule", options.schedule);
  await writeFile(wsFile, wsDoc.toString());
  return {
    root,
    db,
    store: () => openStateStore({ stateDir: join(root, ".siteloom"), ...(options.pgStore ? { url } : {}) }),
    env: { ...ftp.env, QUEUE_LLM_KEY: `sk-test-${Math.random().toString(36).slice(2)}`, QUEUE_PG_URL: url },
    remote: (site) => `${name}-${site}`,
  };
}

function startWorker(ws: Workspace, procs: Proc[], extra: string[] = []): Proc {
  return spawnCli(ws.root, ws.env, ["worker", ...extra], procs);
}

function startServeIn(ws: Workspace, procs: Proc[]): Promise<{ url: string; proc: Proc }> {
  return startServe(ws.root, ws.env, procs);
}

/** Waits for a `step-progress` event of `step` in a run held by a worker not yet killed; returns that worker's pid. */
async function waitForStep(pg: TestPostgres, db: string, step: string, skip: Set<number>): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const rows = await pg.query<{ worker: string }>(
      `SELECT r.worker FROM siteloom_queue.run_events e JOIN siteloom_queue.runs r ON r.run_id = e.run_id
        WHERE e.event->>'type' = 'step-progress' AND e.event->>'step' = $1 AND r.status = 'running'
        ORDER BY e.seq DESC LIMIT 5`,
      [step],
      db,
    );
    for (const row of rows) {
      const pid = Number(row.worker.split(":")[1]);
      if (!skip.has(pid)) return pid;
    }
    if (Date.now() > deadline) throw new Error(`no run reached ${step}`);
    await sleep(50);
  }
}

/**
 * The site's folder on the server holds exactly its output/ (no temp file of an interrupted upload left), and
 * matches the reference site run on one machine.
 */
async function expectDeployed(
  ftp: TestServer,
  ws: Workspace,
  site: string,
  reference: Map<string, string> | undefined,
) {
  const remote = await tree(join(ftp.rootDir, ws.remote(site)));
  expect(withoutManifest(remote), site).toEqual(await tree(join(ws.root, "sites", site, "output")));
  if (reference) expectLikeReference(remote, reference, site);
  expect(
    [...remote.keys()].filter((p) => /(^|\/)\.in\./.test(p)),
    site,
  ).toEqual([]);
}

/**
 * The same tree as the site run on one machine: the same files, and every page the articles do not feed byte for byte
 * the same (the generated articles themselves differ from site to site: the model's answers and their dates).
 */
function expectLikeReference(remote: Map<string, string>, reference: Map<string, string>, site: string): void {
  const mine = withoutManifest(remote);
  const ref = withoutManifest(reference);
  expect([...mine.keys()].sort(), site).toEqual([...ref.keys()].sort());
  for (const [path, hash] of ref) {
    if (!path.startsWith("blog/") && path !== "sitemap.xml") expect(mine.get(path), `${site} ${path}`).toBe(hash);
  }
}
