// Queue benchmarks (issue 17): 200 sites through 1, 2 and 4 workers on a throwaway PostgreSQL 15, with steps that do
// nothing, so what is measured is the queue and the orchestration: jobs per second, and the queue's own overhead
// per job (enqueue → the worker starts it, the worker finishes it → pg-boss records it complete).
// The workers run in this process (each with its own pg-boss, pool and store connection), not as separate
// processes: their CPU is shared, so the figures are a lower bound of what separate machines do.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { QueueSchema } from "../src/config/schema.ts";
import { defineStep } from "../src/pipeline/index.ts";
import { type EnqueueRequest, openQueue, type QueueClient, runWorker } from "../src/queue/index.ts";
import { createSqliteStore } from "../src/store/index.ts";
import { startPostgres } from "../test/support/postgres.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const SITES = Number(process.env.SITELOOM_BENCH_QUEUE_SITES ?? 200);
const TARGET_MS = 50;

const suite: BenchSuite = async () => {
  const pg = await startPostgres();
  const dir = await mkdtemp(join(tmpdir(), "siteloom-bench-queue-"));
  const rows: BenchRow[] = [];
  try {
    await writeFile(join(dir, "siteloom.yaml"), "llm:\n  provider: offline\n");
    const sites = Array.from({ length: SITES }, (_, i) => `site${String(i).padStart(3, "0")}`);
    for (const name of sites) {
      await mkdir(join(dir, "sites", name), { recursive: true });
      await writeFile(join(dir, "sites", name, "site.yaml"), `domain: ${name}.example.com\n`);
    }
    const registry = ["export", "enrich", "deploy"].map((name) =>
      defineStep({ name, description: "no-op", run: async () => ({ counts: {} }) }),
    );
    for (const workers of [1, 2, 4]) {
      const url = await pg.createDatabase(`bench_${workers}`);
      const config = QueueSchema.parse({});
      const clients: QueueClient[] = [];
      for (let i = 0; i < workers; i++) clients.push(await openQueue({ url, config, role: "worker" }));
      const stop = new AbortController();
      const stores = clients.map(() => createSqliteStore({ path: join(dir, `.siteloom/state-${workers}.db`) }));
      const running = clients.map((client, i) =>
        runWorker({ client, url, root: dir, store: stores[i]!, registry, signal: stop.signal }),
      );
      await sleep(500);
      const sender = clients[0]!;
      const started = performance.now();
      const runs = await sender.enqueue(_request(sites));
      for (;;) {
        const { rows: done } = await sender.pool.query(
          "SELECT count(*)::int AS n FROM siteloom_queue.runs WHERE status IN ('succeeded', 'failed')",
        );
        if (done[0].n >= runs.length) break;
        await sleep(20);
      }
      const seconds = (performance.now() - started) / 1000;
      const { rows: failed } = await sender.pool.query(
        "SELECT count(*)::int AS n FROM siteloom_queue.runs WHERE status <> 'succeeded'",
      );
      // finish → record: the worker's `finished` to pg-boss's completed_on (one database clock)
      const { rows: record } = await sender.pool.query(
        `SELECT avg(extract(epoch FROM j.completed_on - r.finished) * 1000) AS ms FROM siteloom_queue.runs r
          JOIN pgboss.job j ON j.id::text = r.job_id WHERE j.completed_on IS NOT NULL`,
      );
      rows.push({
        group: "queue",
        name: `${SITES} sites, no-op steps, ${workers} worker(s)`,
        value: SITES / seconds,
        unit: "req/s",
        note: `jobs/s; ${seconds.toFixed(1)} s in all${failed[0].n ? `; ${failed[0].n} not succeeded` : ""}`,
      });
      rows.push({
        group: "queue",
        name: `finish → recorded complete, ${workers} worker(s)`,
        value: Number(record[0].ms ?? 0),
        unit: "ms",
        target: `< ${TARGET_MS} ms`,
        ok: Number(record[0].ms ?? 0) < TARGET_MS,
      });
      // enqueue → start on idle workers: one job at a time, each waited for
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const [run] = await sender.enqueue(_request([sites[i]!]));
        for (;;) {
          const { rows: r } = await sender.pool.query(
            "SELECT status, extract(epoch FROM started - enqueued) * 1000 AS ms FROM siteloom_queue.runs WHERE run_id = $1",
            [run!.runId],
          );
          if (r[0]?.status === "succeeded") {
            latencies.push(Number(r[0].ms));
            break;
          }
          await sleep(5);
        }
      }
      latencies.sort((a, b) => a - b);
      const median = latencies[Math.floor(latencies.length / 2)]!;
      rows.push({
        group: "queue",
        name: `enqueue → started, idle, ${workers} worker(s)`,
        value: median,
        unit: "ms",
        target: `< ${TARGET_MS} ms`,
        ok: median < TARGET_MS,
        note: `median of 20; max ${latencies.at(-1)!.toFixed(1)} ms (NOTIFY wakes the workers; pg-boss alone polls every 2 s)`,
      });
      stop.abort();
      await Promise.all(running);
      for (const client of clients) await client.close();
      for (const store of stores) await store.close();
    }
  } finally {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
};

export default suite;

// --- internal ---

function _request(sites: string[]): EnqueueRequest {
  return { sites, env: "development", steps: undefined, dryRun: false, actor: "bench", via: "bench" };
}
