import type { LockRecord, StateStore } from "../store/index.ts";
import type { QueueClient } from "./client.ts";
import { SCHEDULE_PREFIX } from "./schedules.ts";
import { BOSS_SCHEMA, QUEUE_SCHEMA } from "./tables.ts";

/** A worker that heartbeated within its lease. */
export interface WorkerStatus {
  id: string;
  queue: string;
  host: string;
  pid: number;
  concurrency: number;
  /** Job ids it runs now. */
  jobs: string[];
  started: string;
  heartbeat: string;
  stopping: boolean;
}

/** Jobs of one queue by state. */
export interface QueueDepth {
  name: string;
  created: number;
  retry: number;
  active: number;
  completed: number;
  failed: number;
  cancelled: number;
}

export interface QueueStatus {
  workers: WorkerStatus[];
  queues: QueueDepth[];
  schedules: { name: string; cron: string; tz: string; sites: string[] }[];
  locks: LockRecord[];
}

/** A job in the dead-letter queue: its retries are spent. */
export interface DeadLetter {
  jobId: string;
  runId: string;
  site: string;
  attempts: number;
  failed: string;
  error: string | undefined;
}

/** `siteloom status`: workers alive, queue depth per state, schedules and the locks held. */
export async function queueStatus(client: QueueClient, store: StateStore): Promise<QueueStatus> {
  const { pool, boss } = client;
  const { rows: workers } = await pool.query(
    `SELECT * FROM ${QUEUE_SCHEMA}.workers WHERE heartbeat > now() - make_interval(secs => $1) ORDER BY host, pid`,
    [client.config.leaseSeconds],
  );
  const { rows: depth } = await pool.query<{ name: string; state: string; n: string }>(
    `SELECT q.name, j.state, count(j.id) AS n FROM ${BOSS_SCHEMA}.queue q
      LEFT JOIN ${BOSS_SCHEMA}.job j ON j.name = q.name GROUP BY q.name, j.state ORDER BY q.name`,
  );
  const queues = new Map<string, QueueDepth>();
  for (const row of depth) {
    const q = queues.get(row.name) ?? {
      name: row.name,
      created: 0,
      retry: 0,
      active: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    };
    if (row.state && row.state in q) (q as unknown as Record<string, number>)[row.state] = Number(row.n);
    queues.set(row.name, q);
  }
  const schedules = (await boss.getSchedules())
    .filter((s) => s.name.startsWith(SCHEDULE_PREFIX))
    .map((s) => ({
      name: s.name,
      cron: s.cron,
      tz: (s.options as { tz?: string } | undefined)?.tz ?? "UTC",
      sites: ((s.data as { sites?: string[] } | undefined)?.sites ?? []).slice(),
    }));
  return {
    workers: workers.map((w) => ({
      id: String(w.id),
      queue: String(w.queue),
      host: String(w.host),
      pid: Number(w.pid),
      concurrency: Number(w.concurrency),
      jobs: w.jobs as string[],
      started: (w.started as Date).toISOString(),
      heartbeat: (w.heartbeat as Date).toISOString(),
      stopping: Boolean(w.stopping),
    })),
    queues: [...queues.values()],
    schedules,
    locks: await store.listLocks(),
  };
}

/** The dead letters of the run queue, newest first. */
export async function listDeadLetters(
  client: QueueClient,
  options: { queue?: string; limit?: number } = {},
): Promise<DeadLetter[]> {
  const queue = options.queue ?? client.config.name;
  const { rows } = await client.pool.query(
    `SELECT d.id::text AS job_id, d.data, d.created_on, r.attempts, r.error
       FROM ${BOSS_SCHEMA}.job d LEFT JOIN ${QUEUE_SCHEMA}.runs r ON r.run_id = d.data->>'runId'
      WHERE d.name = $1 ORDER BY d.created_on DESC LIMIT $2`,
    [client.deadLetterOf(queue), options.limit ?? 50],
  );
  return rows.map((row) => ({
    jobId: String(row.job_id),
    runId: String(row.data?.runId ?? ""),
    site: String(row.data?.site ?? ""),
    attempts: Number(row.attempts ?? 0),
    failed: (row.created_on as Date).toISOString(),
    error: row.error == null ? undefined : String(row.error),
  }));
}
