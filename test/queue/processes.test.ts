import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type LlmServer, startLlmServer } from "../content/support/llm-server.ts";
import { testApiKey, testLlmConfig, writeTestWorkspace } from "../content/support/workspace.ts";
import { runCli, useTempDir } from "../support/cli.ts";
import { startPostgres, type TestPostgres } from "../support/postgres.ts";
import { type Proc, spawnCli, startServe, waitForRuns } from "./support.ts";

// Spawned CLIs and a real PostgreSQL on a busy shared machine: a timeout is not a finding.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

// Processes that share nothing but PostgreSQL (each with its own copy of the workspace folder, as on separate
// machines) and the local LLM wire server.

describe("queue: processes sharing one PostgreSQL", () => {
  let pg: TestPostgres;
  let llm: LlmServer;
  const procs: Proc[] = [];
  beforeAll(async () => {
    [pg, llm] = await Promise.all([startPostgres(), startLlmServer()]);
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all([pg?.stop(), llm?.close()]);
  });

  it("a PATCH on one API instance is served by the other and used by the worker's next job, with no shared files", async () => {
    const base = await useTempDir("siteloom-push-");
    const url = await pg.createDatabase("push");
    const seed = join(base, "seed");
    await writeTestWorkspace(seed, {
      site: "shop",
      llm: testLlmConfig(llm.url, { concurrency: 1 }),
      workspace: {
        env: ["LLM_KEY", "PUSH_PG_URL"],
        store: { url: "${PUSH_PG_URL}" },
        queue: { leaseSeconds: 10, retryDelaySeconds: 1 },
      },
    });
    const env = { LLM_KEY: testApiKey(), PUSH_PG_URL: url };
    const [one, two, work] = ["api1", "api2", "worker"].map((name) => join(base, name)) as [string, string, string];
    for (const dir of [one, two, work]) await cp(seed, dir, { recursive: true });
    const token = (
      await runCli(["--workspace", one, "tokens", "create", "--name", "ops", "--role", "admin"], { env })
    ).stdout.trim();
    const [api1, api2] = [await startServe(one, env, procs), await startServe(two, env, procs)];
    const worker = spawnCli(work, env, ["worker"], procs);
    await worker.waitFor(/taking jobs/);
    const auth = { authorization: `Bearer ${token}` };
    const modelOn = async (api: { url: string }) => {
      const r = await fetch(`${api.url}/config`, { headers: auth });
      return ((await r.json()) as { config: { llm: { model: string } } }).config.llm.model;
    };
    expect(await modelOn(api2)).toBe("test-model");

    const patched = await fetch(`${api1.url}/config`, {
      method: "PATCH",
      headers: { ...auth, "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ llm: { model: "pushed-model" } }),
    });
    expect(patched.status, await patched.clone().text()).toBe(200);
    const t0 = performance.now();
    // the other instance serves it and the worker's files hold it, without any file shared between them
    let apiMs: number | undefined;
    let workerMs: number | undefined;
    while (apiMs === undefined || workerMs === undefined) {
      if (performance.now() - t0 > 20_000) throw new Error(`not pushed: api ${apiMs} ms, worker ${workerMs} ms`);
      if (workerMs === undefined && (await readFile(join(work, "siteloom.yaml"), "utf8")).includes("pushed-model")) {
        workerMs = performance.now() - t0;
      }
      if (apiMs === undefined && (await _servedModel(api2, auth)) === "pushed-model") apiMs = performance.now() - t0;
      await sleep(20);
    }
    // the figure docs/many-machines.md quotes (the issue asks for 1 s; timings are reported, never asserted)
    console.log(`config push: other API instance ${Math.round(apiMs)} ms, worker ${Math.round(workerMs)} ms`);
    expect(await modelOn(api2)).toBe("pushed-model");

    // the next job on the worker uses it: the model named in the requests the LLM server received
    llm.reset();
    const started = await fetch(`${api2.url}/runs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ sites: ["shop"], steps: ["generate"] }),
    });
    expect(started.status).toBe(202);
    const { runs } = (await started.json()) as { runs: { id: string }[] };
    const [run] = await waitForRuns(pg, "push", [runs[0]!.id], 120_000);
    expect(run?.status).toBe("succeeded");
    expect(llm.requests.length).toBeGreaterThan(0);
    expect(new Set(llm.requests.map((r) => r.body.model))).toEqual(new Set(["pushed-model"]));

    // every instance knows the same version, and the push recorded no version of its own
    const versions = await pg.query<{ n: string }>("SELECT count(*) AS n FROM config_versions", [], "push");
    const status = (await (await fetch(`${api2.url}/config/status`, { headers: auth })).json()) as {
      version: number;
    };
    expect(status.version).toBe(Number(versions[0]!.n));
  });

  it("a file edit recorded by `config push` on another machine reaches a worker's files; an invalid edit is not recorded", async () => {
    const base = await useTempDir("siteloom-cli-push-");
    const url = await pg.createDatabase("cli_push");
    const laptop = join(base, "laptop");
    const work = join(base, "worker");
    await writeTestWorkspace(laptop, {
      site: "shop",
      llm: testLlmConfig(llm.url, { concurrency: 1 }),
      workspace: { env: ["LLM_KEY", "CLI_PUSH_PG_URL"], store: { url: "${CLI_PUSH_PG_URL}" } },
    });
    await cp(laptop, work, { recursive: true });
    const env = { LLM_KEY: testApiKey(), CLI_PUSH_PG_URL: url };
    const push = (...args: string[]) => runCli(["--workspace", laptop, "config", "push", ...args], { env });
    const versions = () =>
      pg.query<{ id: number; source: string; actor: string; diff: string }>(
        "SELECT id, source, actor, diff FROM config_versions ORDER BY id",
        [],
        "cli_push",
      );
    const first = await push();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/recorded configuration version 1 \(siteloom.yaml, sites\/shop\/site.yaml\)/);
    const worker = spawnCli(work, env, ["worker"], procs);
    await worker.waitFor(/taking jobs/);

    const file = join(laptop, "siteloom.yaml");
    const original = await readFile(file, "utf8");
    await writeFile(file, original.replace("model: test-model", "model: cli-pushed-model"));
    const pushed = await push("-m", "llm.model: cli-pushed-model", "--json");
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toEqual({ recorded: true, version: 2, files: ["siteloom.yaml"] });
    const deadline = Date.now() + 30_000;
    while (!(await readFile(join(work, "siteloom.yaml"), "utf8")).includes("model: cli-pushed-model")) {
      if (Date.now() > deadline) throw new Error(`not pushed to the worker: ${worker.output()}`);
      await sleep(50);
    }
    const [, second] = await versions();
    expect(second).toMatchObject({ id: 2, source: "cli" });
    expect(JSON.parse(second!.diff)).toMatchObject({ message: "llm.model: cli-pushed-model" });
    expect(JSON.parse(second!.diff).unified).toContain("+  model: cli-pushed-model");

    // the same files again: nothing recorded; an invalid edit: exit 3, nothing recorded, the worker keeps version 2
    const again = await push();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("unchanged: the files are configuration version 2");
    await writeFile(file, original.replace("model: test-model", "model: [not, a, string]"));
    const invalid = await push();
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toMatch(/siteloom.yaml:\d+:\d+ llm.model/);
    expect((await versions()).map((v) => v.id)).toEqual([1, 2]);
    expect(await readFile(join(work, "siteloom.yaml"), "utf8")).toContain("model: cli-pushed-model");
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
  });

  it("llm.concurrency and llm.requestsPerMinute hold for the whole workspace across three worker processes", async () => {
    const dir = await useTempDir("siteloom-limits-");
    const url = await pg.createDatabase("limits");
    const sites = ["l1", "l2", "l3", "l4"];
    for (const site of sites) {
      await writeTestWorkspace(dir, {
        site,
        llm: testLlmConfig(llm.url, { concurrency: 2, requestsPerMinute: 16 }),
        topics: `topic\n${site} first topic\n${site} second topic\n`,
        workspace: {
          env: ["LLM_KEY", "LIMITS_PG_URL"],
          store: { url: "${LIMITS_PG_URL}" },
          queue: { leaseSeconds: 10, retryDelaySeconds: 1 },
        },
      });
    }
    const env = { LLM_KEY: testApiKey(), LIMITS_PG_URL: url };
    // each worker could run 2 jobs of 2 articles at once: 12 requests in flight without a workspace-wide limit
    const workers = [1, 2, 3].map(() => spawnCli(dir, env, ["worker", "--concurrency", "2"], procs));
    await Promise.all(workers.map((w) => w.waitFor(/taking jobs/)));
    // another machine started 8 requests 45 s ago: the window holds 8 more until those leave it
    await pg.query(
      `CREATE TABLE IF NOT EXISTS siteloom_call_log (name text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
       INSERT INTO siteloom_call_log (name, at) SELECT 'llm:openai', now() - interval '45 seconds' FROM generate_series(1, 8)`,
      [],
      "limits",
    );
    const [{ leaves }] = (await pg.query<{ leaves: Date }>(
      "SELECT max(at) + interval '60 seconds' AS leaves FROM siteloom_call_log",
      [],
      "limits",
    )) as [{ leaves: Date }];
    llm.reset();
    llm.latencyMs = 300;
    const enqueue = await runCli(["--workspace", dir, "run", ...sites, "--steps", "generate", "--queue", "--json"], {
      env,
    });
    expect(enqueue.code, enqueue.stderr).toBe(0);
    const ids = (JSON.parse(enqueue.stdout) as { runId: string }[]).map((r) => r.runId);
    const runs = await waitForRuns(pg, "limits", ids, 120_000);
    llm.latencyMs = 0;
    expect(runs.map((r) => r.status)).toEqual(sites.map(() => "succeeded"));
    // the limits held across processes: the jobs ran on more than one worker, never more than 2 requests at once
    expect(new Set(runs.map((r) => r.worker)).size).toBeGreaterThan(1);
    expect(llm.requests.length).toBe(16);
    expect(llm.maxInFlight).toBeLessThanOrEqual(2);
    // 8 places were left in the window until the other machine's starts left it; the rest came after
    const early = llm.requests.filter((r) => r.at < leaves.getTime() - 100);
    expect(early.length).toBeLessThanOrEqual(8);
    expect(early.length).toBeGreaterThan(0);
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  });

  it("a worker's /metrics reports the jobs waiting in its queue", async () => {
    const dir = await useTempDir("siteloom-depth-");
    const url = await pg.createDatabase("depth");
    const sites = ["d1", "d2", "d3"];
    for (const site of sites) {
      await writeTestWorkspace(dir, {
        site,
        llm: testLlmConfig(llm.url, { concurrency: 1 }),
        topics: `topic\n${site} topic\n`,
        workspace: { env: ["LLM_KEY", "DEPTH_PG_URL"], store: { url: "${DEPTH_PG_URL}" } },
      });
    }
    const env = { LLM_KEY: testApiKey(), DEPTH_PG_URL: url };
    llm.reset();
    // the first job's first call is slow: the worker (one job at a time) holds it while two wait
    llm.script({ delayMs: 8000 });
    const worker = spawnCli(dir, env, ["worker", "--metrics-port", "0"], procs);
    const metricsUrl = (await worker.waitFor(/metrics on http:\/\/\S+/)).slice("metrics on ".length);
    await worker.waitFor(/taking jobs/);
    const depth = async () => {
      const text = await (await fetch(metricsUrl)).text();
      return Number(text.match(/^siteloom_queue_depth (\S+)$/m)?.[1]);
    };
    expect(await depth()).toBe(0);
    const enqueue = await runCli(["--workspace", dir, "run", ...sites, "--steps", "generate", "--queue", "--json"], {
      env,
    });
    expect(enqueue.code, enqueue.stderr).toBe(0);
    const ids = (JSON.parse(enqueue.stdout) as { runId: string }[]).map((r) => r.runId);
    const deadline = Date.now() + 60_000;
    while (llm.requests.length === 0) {
      if (Date.now() > deadline) throw new Error(`no model call: ${worker.output()}`);
      await sleep(50);
    }
    expect(await depth()).toBe(2);
    const runs = await waitForRuns(pg, "depth", ids, 120_000);
    expect(runs.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(await depth()).toBe(0);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
  });

  it("a schedule fires on a worker: its pg-boss schedule enqueues a run, which the worker runs and records", async () => {
    const dir = await useTempDir("siteloom-schedule-");
    const url = await pg.createDatabase("schedule");
    await writeTestWorkspace(dir, {
      site: "shop",
      llm: testLlmConfig(llm.url, { concurrency: 1 }),
      workspace: {
        env: ["LLM_KEY", "SCHEDULE_PG_URL"],
        store: { url: "${SCHEDULE_PG_URL}" },
        // due every minute: pg-boss fires a schedule whose last time is less than 60 s old, so the first check
        // after the worker registered it fires it, with no wait for a minute to begin
        queue: { leaseSeconds: 10, retryDelaySeconds: 1, scheduleCheckSeconds: 1 },
        schedule: { cron: "* * * * *", tz: "Europe/Paris", steps: ["generate"] },
      },
    });
    const env = { LLM_KEY: testApiKey(), SCHEDULE_PG_URL: url };
    llm.reset();
    const worker = spawnCli(dir, env, ["worker"], procs);
    await worker.waitFor(/taking jobs/);
    const deadline = Date.now() + 120_000;
    let runs: { id: string; status: string; steps: string; options: string }[] = [];
    while (!runs.some((r) => r.status === "succeeded")) {
      if (Date.now() > deadline) throw new Error(`no scheduled run done: ${JSON.stringify(runs)} ${worker.output()}`);
      await sleep(200);
      runs = await pg.query("SELECT id, status, steps, options FROM runs", [], "schedule");
    }
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    // the run came from the schedule, ran the schedule's steps on the worker and called the model
    const run = runs.find((r) => r.status === "succeeded")!;
    expect(JSON.parse(run.options)).toMatchObject({ via: expect.stringMatching(/^schedule:siteloom-schedule-/) });
    expect(JSON.parse(run.steps)).toEqual(["generate"]);
    expect(llm.requests.length).toBeGreaterThan(0);
    const schedules = await pg.query<{ cron: string; timezone: string }>(
      "SELECT cron, timezone FROM pgboss.schedule",
      [],
      "schedule",
    );
    expect(schedules).toEqual([{ cron: "* * * * *", timezone: "Europe/Paris" }]);
  });

  it("a second Ctrl-C still records the run as interrupted and releases its lock in PostgreSQL before leaving", async () => {
    const dir = await useTempDir("siteloom-forced-");
    const url = await pg.createDatabase("forced");
    await writeTestWorkspace(dir, {
      site: "shop",
      llm: testLlmConfig(llm.url, { concurrency: 1 }),
      workspace: { env: ["LLM_KEY", "FORCED_PG_URL"], store: { url: "${FORCED_PG_URL}" } },
    });
    const env = { LLM_KEY: testApiKey(), FORCED_PG_URL: url };
    llm.reset();
    // the model answers slowly: the run is in the middle of a call when the signals come
    llm.script({ delayMs: 30_000 });
    const run = spawnCli(dir, env, ["run", "shop", "--steps", "generate"], procs);
    const deadline = Date.now() + 60_000;
    while (llm.requests.length === 0) {
      if (Date.now() > deadline) throw new Error(`no model call: ${run.output()}`);
      await sleep(50);
    }
    // Ctrl-C twice at once: the second leaves before the first one's clean-up could be written
    run.child.kill("SIGINT");
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    const runs = await pg.query<{ status: string; error: string }>("SELECT status, error FROM runs", [], "forced");
    expect(runs).toEqual([{ status: "interrupted", error: "interrupted" }]);
    expect(await pg.query("SELECT name FROM locks", [], "forced")).toEqual([]);
    llm.reset();
  });
});

// --- internal ---

/** The model in the configuration an instance serves from its snapshot, without making it read the disk. */
async function _servedModel(api: { url: string }, auth: Record<string, string>): Promise<string | undefined> {
  const r = await fetch(`${api.url}/config/status`, { headers: auth });
  const status = (await r.json()) as { version: number };
  const v = await fetch(`${api.url}/config/versions/${status.version}`, { headers: auth });
  const body = (await v.json()) as { files?: Record<string, string> };
  return body.files?.["siteloom.yaml"]?.match(/model: (\S+)/)?.[1];
}
