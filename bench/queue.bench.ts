// Queue benchmarks (issue 17): 200 sites (copies of the example site, each live in its own folder on one vsftpd) run
// by `siteloom worker` processes (the built CLI) with their state and queue in a throwaway PostgreSQL 15, through 1,
// 2 and 4 workers. Each site is first brought to steady state by one real `siteloom run --steps export,enrich,deploy`;
// then every pass enqueues the same run for all sites, whose steps find nothing to do (nothing downloaded, nothing
// uploaded), and reads the figures from the run records (one database clock):
// - jobs per second: sites / (last job recorded complete − enqueue);
// - the queue's own overhead per job: free → started (the job's start minus the later of its enqueue and the
//   completion of the previous job on the same worker: how long a job waited while a worker was free) and
//   finished → recorded (the worker's `finished` to pg-boss's completed_on), median and p95;
// - the job's own time: the steps' time (the store's step records) and the rest of the run on the worker (loading
//   the workspace, run records, locks, events);
// - enqueue → started on idle workers: jobs sent one at a time, each waited for.
// Sizes: SITELOOM_BENCH_QUEUE_SITES (200), SITELOOM_BENCH_QUEUE_WORKERS ("1,2,4"), SITELOOM_BENCH_QUEUE_IDLE (20).
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Proc, spawnCli, waitForRuns } from "../test/queue/support.ts";
import { runCli } from "../test/support/cli.ts";
import { createExampleWorkspace } from "../test/support/example-workspace.ts";
import { startPostgres, type TestPostgres } from "../test/support/postgres.ts";
import { startServer } from "../test/support/servers/index.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const SITES = Number(process.env.SITELOOM_BENCH_QUEUE_SITES ?? 200);
const WORKERS = (process.env.SITELOOM_BENCH_QUEUE_WORKERS ?? "1,2,4").split(",").map(Number);
const IDLE = Number(process.env.SITELOOM_BENCH_QUEUE_IDLE ?? 20);
const STEPS = "export,enrich,deploy";
const TARGET_MS = 50;
/** Sites run at once by the setup run (transfers waiting on the server more than on the CPU). */
const SETUP_CONCURRENCY = 8;
const DB = "bench_queue";

const suite: BenchSuite = async () => {
  const [pg, ftp] = await Promise.all([startPostgres(), startServer("vsftpd-ftp")]);
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-queue-"));
  const procs: Proc[] = [];
  const rows: BenchRow[] = [];
  try {
    const url = await pg.createDatabase(DB);
    const root = join(dir, "ws");
    const sites = Array.from({ length: SITES }, (_, i) => `site${String(i).padStart(3, "0")}`);
    await createExampleWorkspace(root, {
      server: ftp,
      // never called: no generate step, and the provider is set to offline below
      llm: { url: "http://127.0.0.1:9/v1" } as Parameters<typeof createExampleWorkspace>[1]["llm"],
      apiKey: "unused",
      sites,
      editWorkspace: (doc) => {
        doc.set("llm", doc.createNode({ provider: "offline" }));
        doc.set("env", ["BENCH_PG_URL", ...Object.keys(ftp.env)]);
        // every piece of state in PostgreSQL, the queue beside it
        doc.set("store", doc.createNode({ url: "${BENCH_PG_URL}" }));
      },
    });
    const env = { ...ftp.env, BENCH_PG_URL: url };

    // steady state: real runs of every site until one moves no file. The first fills the export mirror, enrich's
    // output and the deploy manifest; the next export downloads the pages that deploy replaced (9 of the example's
    // 12 files) and deploy uploads nothing, the third moves no file. Each pass below counts the files its
    // steps moved (0: a no-op). A failed run is run again (vsftpd under load once answered `500 OOPS:
    // priv_sock_get_int` to a listing).
    const t0 = performance.now();
    const setupLoad = loadavg()[0]!.toFixed(1);
    let setupRuns = 0;
    let failures = 0;
    for (;;) {
      const setup = await runCli(
        ["--workspace", root, "run", "--all", "--steps", STEPS, "--concurrency", String(SETUP_CONCURRENCY)],
        { env, timeoutMs: 1_800_000 },
      );
      setupRuns++;
      if (setup.code !== 0 && ++failures > 2) {
        throw new Error(`setup run exited ${setup.code}: ${setup.stderr.slice(-2000)}`);
      }
      if (setup.code === 0 && (await _latestRunMoved(pg)) === 0) break;
      if (setupRuns >= 8) throw new Error(`no steady state after ${setupRuns} runs`);
    }
    const setupSeconds = (performance.now() - t0) / 1000;

    for (const workers of WORKERS) {
      const load = loadavg()[0]!.toFixed(1);
      const started = await _startWorkers(root, env, workers, procs);
      const enqueue = await runCli(["--workspace", root, "run", "--all", "--steps", STEPS, "--queue", "--json"], {
        env,
      });
      if (enqueue.code !== 0) throw new Error(`enqueue failed: ${enqueue.stderr}`);
      const ids = (JSON.parse(enqueue.stdout) as { runId: string }[]).map((r) => r.runId);
      const runs = await waitForRuns(pg, DB, ids, 1_800_000, started);
      const failed = runs.filter((r) => r.status !== "succeeded").length;
      const f = await _figures(pg, ids);

      // enqueue → started on idle workers: one site at a time, each waited for
      const idle: number[] = [];
      for (let i = 0; i < IDLE; i++) {
        const one = await runCli(
          ["--workspace", root, "run", sites[i % sites.length]!, "--steps", STEPS, "--queue", "--json"],
          { env },
        );
        if (one.code !== 0) throw new Error(`enqueue failed: ${one.stderr}`);
        const [run] = JSON.parse(one.stdout) as { runId: string }[];
        await waitForRuns(pg, DB, [run!.runId], 120_000, started);
        const [row] = await pg.query<{ ms: number }>(
          "SELECT extract(epoch FROM started - enqueued) * 1000 AS ms FROM siteloom_queue.runs WHERE run_id = $1",
          [run!.runId],
          DB,
        );
        idle.push(Number(row!.ms));
      }
      for (const w of started) w.child.kill("SIGTERM");
      await Promise.all(started.map((w) => w.exited));

      const label = `${SITES} sites, ${workers} worker${workers > 1 ? "s" : ""}`;
      const overhead = f.free.median + f.record.median;
      rows.push(
        {
          group: "queue",
          name: `${label}: jobs per second`,
          value: SITES / f.seconds,
          unit: "req/s",
          note: `jobs/s; ${f.seconds.toFixed(1)} s from enqueue to the last job recorded; ${f.moved ? `NOT A NO-OP: ${f.moved} file(s) moved` : "no file moved"}${failed ? `; ${failed} not succeeded` : ""}; load average ${load}`,
        },
        {
          group: "queue",
          name: `${label}: queue overhead per job (median)`,
          value: overhead,
          unit: "ms",
          target: `< ${TARGET_MS} ms`,
          ok: overhead < TARGET_MS,
          note: `free → started ${_ms(f.free)}; finished → recorded ${_ms(f.record)}`,
        },
        {
          group: "queue",
          name: `${label}: the job on its worker (median)`,
          value: f.job.median,
          unit: "ms",
          note: `steps ${_ms(f.steps)} (medians: ${f.perStep} ms); the rest of the run (workspace load, records, locks, events) ${_ms(f.rest)}`,
        },
        {
          group: "queue",
          name: `${label}: enqueue → started, idle workers`,
          value: _stats(idle).median,
          unit: "ms",
          target: `< ${TARGET_MS} ms`,
          ok: _stats(idle).median < TARGET_MS,
          note: `${IDLE} single-site jobs, each waited for: ${_ms(_stats(idle))}`,
        },
      );
    }
    rows.push({
      group: "queue",
      name: `${SITES} sites to steady state (siteloom run, ${SETUP_CONCURRENCY} at a time)`,
      value: setupSeconds,
      unit: "s",
      note: `${setupRuns} runs of export, enrich, deploy (${failures} failed and run again), the last moving no file; load average ${setupLoad}`,
    });
  } finally {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all([pg.stop(), ftp.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
};

export default suite;

// --- internal ---

interface Stats {
  median: number;
  p95: number;
}

/** Starts `n` `siteloom worker` processes and waits until each takes jobs. */
async function _startWorkers(root: string, env: Record<string, string>, n: number, procs: Proc[]): Promise<Proc[]> {
  const started = Array.from({ length: n }, () => spawnCli(root, env, ["worker"], procs));
  await Promise.all(started.map((w) => w.waitFor(/taking jobs/)));
  // the workers' first heartbeat and reap are behind them
  await sleep(500);
  return started;
}

/** Files downloaded, removed, uploaded or deleted by the latest run (`siteloom run --all`: one run, every site). */
async function _latestRunMoved(pg: TestPostgres): Promise<number> {
  const rows = await pg.query<{ step: string; counts: string }>(
    "SELECT step, counts FROM run_steps WHERE run_id = (SELECT id FROM runs ORDER BY started DESC LIMIT 1)",
    [],
    DB,
  );
  return rows.reduce((sum, r) => sum + _moved(r.step, r.counts), 0);
}

/** Files a step moved, from its counts. */
function _moved(step: string, counts: string): number {
  const c = JSON.parse(counts) as Record<string, number>;
  if (step === "export") return (c.downloaded ?? 0) + (c.removed ?? 0);
  if (step === "deploy") return (c.uploaded ?? 0) + (c.deleted ?? 0);
  return 0;
}

/** The figures of one pass, from the queue's run rows, pg-boss's jobs and the store's step records. */
async function _figures(pg: TestPostgres, ids: string[]) {
  const runs = await pg.query<{
    run_id: string;
    worker: string;
    enqueued: string;
    started: string;
    finished: string;
    completed: string;
  }>(
    // epoch milliseconds with the microseconds (a Date would drop them)
    `SELECT r.run_id, r.worker, extract(epoch FROM r.enqueued) * 1000 AS enqueued,
            extract(epoch FROM r.started) * 1000 AS started, extract(epoch FROM r.finished) * 1000 AS finished,
            extract(epoch FROM j.completed_on) * 1000 AS completed
       FROM siteloom_queue.runs r JOIN pgboss.job j ON j.id::text = r.job_id
      WHERE r.run_id = ANY($1) ORDER BY r.started, r.run_id`,
    [ids],
    DB,
  );
  const steps = await pg.query<{ run_id: string; step: string; started: string; finished: string; counts: string }>(
    "SELECT run_id, step, started, finished, counts FROM run_steps WHERE run_id = ANY($1)",
    [ids],
    DB,
  );
  const stepMs = new Map<string, number>();
  const perStep = new Map<string, number[]>();
  let moved = 0;
  for (const s of steps) {
    if (s.started && s.finished) {
      const ms = Date.parse(s.finished) - Date.parse(s.started);
      stepMs.set(s.run_id, (stepMs.get(s.run_id) ?? 0) + ms);
      perStep.set(s.step, [...(perStep.get(s.step) ?? []), ms]);
    }
    moved += _moved(s.step, s.counts);
  }
  const free: number[] = [];
  const record: number[] = [];
  const job: number[] = [];
  const rest: number[] = [];
  const lastOf = new Map<string, number>();
  for (const r of runs) {
    const [enqueued, start, finished, completed] = [r.enqueued, r.started, r.finished, r.completed].map(Number) as [
      number,
      number,
      number,
      number,
    ];
    free.push(start - Math.max(enqueued, lastOf.get(r.worker) ?? 0));
    lastOf.set(r.worker, completed);
    record.push(completed - finished);
    const ms = finished - start;
    job.push(ms);
    rest.push(ms - (stepMs.get(r.run_id) ?? 0));
  }
  const first = Math.min(...runs.map((r) => Number(r.enqueued)));
  const last = Math.max(...runs.map((r) => Number(r.completed)));
  return {
    seconds: (last - first) / 1000,
    moved,
    free: _stats(free),
    record: _stats(record),
    job: _stats(job),
    steps: _stats([...stepMs.values()]),
    perStep: STEPS.split(",")
      .map((step) => `${step} ${_stats(perStep.get(step) ?? []).median.toFixed(0)}`)
      .join(", "),
    rest: _stats(rest),
  };
}

function _stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { median: at(0.5), p95: at(0.95) };
}

function _ms(s: Stats): string {
  return `median ${s.median.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms`;
}
