import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type PgBoss from "pg-boss";
import { type ErrorCode, type ErrorKind, errorKind, isSiteloomError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import { BUILTIN_STEPS, type PipelineStep, runPipeline } from "../pipeline/index.ts";
import { runWithRetry } from "../retry.ts";
import { redact } from "../secret.ts";
import { createSecretResolver, guardPlaintext } from "../secrets/index.ts";
import { connectPg, isConnectionError, listenPg, type StateStore } from "../store/index.ts";
import { followConfigVersions, loadWorkspace, type Workspace } from "../workspace/index.ts";
import { newWorkerId, type QueueClient, type RunJobData } from "./client.ts";
import { createRunEventSink } from "./events.ts";
import { BOSS_SCHEMA, JOBS_CHANNEL, QUEUE_SCHEMA } from "./tables.ts";

export interface RunWorkerOptions {
  client: QueueClient;
  /** The queue database URL (for the LISTEN connection). */
  url: string;
  /** The workspace root; each job loads the configuration in force when it starts. */
  root: string;
  store: StateStore;
  /** Queue to take jobs from. @default client.config.name */
  queue?: string;
  /** Jobs run at once. @default 1 */
  concurrency?: number;
  /** Variables for `${NAME}` references and SITELOOM_* overrides. @default process.env */
  vars?: Record<string, string | undefined>;
  /** Aborting it stops the worker: no new job, running ones get `graceSeconds` to finish, then are handed back. */
  signal: AbortSignal;
  /** Steps available. @default BUILTIN_STEPS */
  registry?: PipelineStep[];
  logger?: Logger;
  /** One line per job started and finished (the CLI prints them). */
  onLine?: (line: string) => void;
  /** Called once the worker takes jobs. */
  onReady?: (workerId: string) => void;
}

export interface WorkerSummary {
  workerId: string;
  /** Jobs finished (any outcome). */
  jobs: number;
  /** Jobs still running at the end of the grace period, handed back to the queue. */
  handedBack: number;
}

/** Failures worth retrying: a transfer or an unexpected error, a lock still held, an interruption. */
const RETRYABLE_KINDS = new Set<ErrorKind>(["failure", "transfer", "locked", "interrupted"]);

/**
 * `siteloom worker`: takes pipeline jobs (one site of one run each) from pg-boss and runs them with the same steps,
 * run records, locks and events as `siteloom run`. The worker heartbeats in siteloom_queue.workers with the jobs it
 * holds; any worker hands the jobs of a worker silent for `queue.leaseSeconds` back to pg-boss (failed, so retried
 * with its backoff), where another takes them and resumes from the step records.
 */
export async function runWorker(options: RunWorkerOptions): Promise<WorkerSummary> {
  const { client, store } = options;
  const { boss, pool, config } = client;
  const logger = options.logger ?? createSilentLogger();
  const queue = options.queue ?? config.name;
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const vars = options.vars ?? process.env;
  const line = options.onLine ?? (() => {});
  const workerId = newWorkerId();
  const leaseMs = config.leaseSeconds * 1000;
  const held = new Map<string, { runId: string; site: string; controller: AbortController; done: Promise<unknown> }>();
  let finishedJobs = 0;
  let stopping = false;

  await client.ensureQueue(queue);
  // each job loads the files when it starts: the follower keeps them at the version last recorded anywhere
  const follower = followConfigVersions({ root: options.root, store, vars, logger, force: true });
  await follower?.check();
  const beat = async () => {
    await pool.query(
      `INSERT INTO ${QUEUE_SCHEMA}.workers (id, queue, host, pid, concurrency, jobs, stopping)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET heartbeat = now(), jobs = excluded.jobs, stopping = excluded.stopping`,
      [workerId, queue, hostname(), process.pid, concurrency, JSON.stringify([...held.keys()]), stopping],
    );
  };
  await beat();
  const timer = setInterval(
    () => {
      beat()
        .then(() => _reap(client, queue, config.leaseSeconds, logger))
        .catch((error) => logger.warn({ err: error }, "queue: heartbeat failed (retrying)"));
    },
    Math.max(500, leaseMs / 4),
  );
  timer.unref();

  const handle = async (job: PgBoss.JobWithMetadata<RunJobData>): Promise<unknown> => {
    const data = job.data;
    const controller = new AbortController();
    let resolveDone: (value?: unknown) => void = () => {};
    const done = new Promise((resolve) => {
      resolveDone = resolve;
    });
    held.set(job.id, { runId: data.runId, site: data.site, controller, done });
    try {
      await beat().catch(() => undefined);
      await _retryDb(() =>
        pool.query(
          `INSERT INTO ${QUEUE_SCHEMA}.runs (run_id, job_id, queue, site, env, status, started, attempts, worker)
         VALUES ($1, $2, $3, $4, $5, 'running', now(), 1, $6)
         ON CONFLICT (run_id) DO UPDATE SET status = 'running', job_id = excluded.job_id,
           started = COALESCE(${QUEUE_SCHEMA}.runs.started, now()), attempts = ${QUEUE_SCHEMA}.runs.attempts + 1,
           worker = excluded.worker, finished = NULL, error_code = NULL, error = NULL`,
          [data.runId, job.id, queue, data.site, data.env, workerId],
        ),
      );
      line(`${data.site}: run ${data.runId} started (attempt ${job.retryCount + 1})`);
      const sink = createRunEventSink(pool, data.runId, logger);
      let errorCode: ErrorCode | undefined;
      let message: string | undefined;
      try {
        const workspace = await _loadJobWorkspace(options.root, data, vars, logger);
        const report = await runPipeline({
          workspace,
          sites: [data.site],
          registry: options.registry ?? BUILTIN_STEPS,
          steps: data.steps,
          store,
          concurrency: 1,
          dryRun: data.dryRun,
          signal: controller.signal,
          // a dead holder on another host is stale once its lease runs out: wait for that rather than fail
          lockWaitMs: 3 * leaseMs,
          lockLeaseMs: leaseMs,
          actor: data.actor,
          runId: data.runId,
          recordOptions: { via: data.via, queue, jobId: job.id, worker: workerId },
          logger,
          onEvent: (event) => sink.push(event),
        });
        errorCode = report.error?.code;
        message = report.error?.message;
      } catch (error) {
        // the run could not start (configuration, store): recorded on the queue's run only
        errorCode = isSiteloomError(error) ? error.code : "ERR_INTERNAL";
        message = redact((error as Error).message);
      }
      await sink.flush();
      const retry =
        message !== undefined &&
        (controller.signal.aborted || (_retryable(errorCode) && job.retryCount < job.retryLimit));
      const status = message === undefined ? "succeeded" : retry ? "retrying" : "failed";
      await _retryDb(() =>
        pool.query(
          `UPDATE ${QUEUE_SCHEMA}.runs SET status = $2, finished = now(), error_code = $3, error = $4 WHERE run_id = $1`,
          [data.runId, status, errorCode ?? null, message ?? null],
        ),
      );
      line(`${data.site}: run ${data.runId} ${status}${message ? `: ${message}` : ""}`);
      finishedJobs++;
      // a failure pg-boss should retry (with its backoff), or hand to the dead letters once retries are spent
      if (message !== undefined && (retry || _retryable(errorCode))) throw new Error(message);
      return { runId: data.runId, status, errorCode, ...(message ? { error: message } : {}) };
    } finally {
      held.delete(job.id);
      resolveDone();
      // pg-boss would wait its polling interval before the next fetch: with jobs waiting, fetch again at once
      wakeAll();
      await beat().catch(() => undefined);
    }
  };

  const workIds: string[] = [];
  const wakeAll = () => {
    if (!stopping) for (const id of workIds) boss.notifyWorker(id);
  };
  for (let i = 0; i < concurrency; i++) {
    workIds.push(
      await boss.work<RunJobData>(
        queue,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: 2 },
        async ([job]) => (job ? handle(job) : undefined),
      ),
    );
  }
  const listener = listenPg({
    url: options.url,
    channels: [JOBS_CHANNEL],
    applicationName: "siteloom-worker-listen",
    onNotify: (_channel, payload) => {
      if (payload === queue) wakeAll();
    },
    // jobs sent while the connection was away: fetch now rather than at the next poll
    onListening: wakeAll,
  });
  options.onReady?.(workerId);
  line(`worker ${workerId} taking jobs from ${queue} (concurrency ${concurrency})`);

  await new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  stopping = true;
  await beat().catch(() => undefined);
  for (const id of workIds) await boss.offWork({ id });
  const graceMs = config.graceSeconds * 1000;
  const jobs = [...held.values()];
  if (jobs.length > 0) line(`stopping: ${jobs.length} job(s) running, waiting up to ${config.graceSeconds}s`);
  const all = Promise.allSettled(jobs.map((j) => j.done));
  const graceTimer = new AbortController();
  const inTime = await Promise.race([
    all.then(() => true),
    sleep(graceMs, false, { signal: graceTimer.signal }).catch(() => false),
  ]);
  graceTimer.abort();
  let handedBack = 0;
  if (!inTime) {
    // interrupted runs record themselves as such; their jobs fail and pg-boss hands them to another worker
    for (const job of held.values()) {
      handedBack++;
      job.controller.abort();
    }
    await all;
  }
  clearInterval(timer);
  await listener.close();
  await follower?.close();
  await pool.query(`DELETE FROM ${QUEUE_SCHEMA}.workers WHERE id = $1`, [workerId]).catch(() => undefined);
  return { workerId, jobs: finishedJobs, handedBack };
}

// --- internal ---

function _retryable(code: ErrorCode | undefined): boolean {
  return code !== undefined && RETRYABLE_KINDS.has(errorKind(code));
}

/**
 * A write to the queue's tables that outlasts a database restart (about a minute): the run's outcome is not dropped
 * because PostgreSQL was away for a moment. After that the job stays active, and the lease hands it on.
 */
function _retryDb<T>(fn: () => Promise<T>): Promise<T> {
  return runWithRetry(fn, {
    retries: 30,
    baseMs: 250,
    maxMs: 2000,
    // a statement that reached the server and failed would fail again: only a lost connection is worth waiting out
    classify: (error) => ({ retry: isConnectionError(error) }),
  });
}

async function _loadJobWorkspace(
  root: string,
  data: RunJobData,
  baseVars: Record<string, string | undefined>,
  logger: Logger,
): Promise<Workspace> {
  const vars = { ...baseVars, SITELOOM_ACTOR: data.actor };
  return guardPlaintext(
    await loadWorkspace({
      workspace: root,
      env: data.env,
      vars,
      secrets: (ws) => createSecretResolver(ws, { vars, env: data.env }),
    }),
    { warn: (message) => logger.warn(message) },
  );
}

/**
 * Hands back the jobs of workers that stopped heartbeating: active jobs of this queue that no live worker lists,
 * started more than a lease ago, are failed through pg-boss (which retries them with the queue's backoff, or moves
 * them to the dead letters). One worker at a time does it (advisory lock), inside the same transaction.
 */
async function _reap(client: QueueClient, queue: string, leaseSeconds: number, logger: Logger): Promise<void> {
  const conn = await connectPg(client.pool);
  try {
    await conn.query("BEGIN");
    const { rows: lock } = await conn.query("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [
      `${QUEUE_SCHEMA}.reap:${queue}`,
    ]);
    if (!lock[0]?.ok) {
      await conn.query("ROLLBACK");
      return;
    }
    const { rows } = await conn.query<{ id: string; run_id: string }>(
      `SELECT j.id::text AS id, j.data->>'runId' AS run_id FROM ${BOSS_SCHEMA}.job j
        WHERE j.name = $1 AND j.state = 'active' AND j.started_on < now() - make_interval(secs => $2)
          AND NOT EXISTS (SELECT 1 FROM ${QUEUE_SCHEMA}.workers w
            WHERE w.heartbeat > now() - make_interval(secs => $2) AND w.jobs @> jsonb_build_array(j.id::text))`,
      [queue, leaseSeconds],
    );
    if (rows.length > 0) {
      const db = { executeSql: (text: string, values: unknown[]) => conn.query(text, values) };
      for (const row of rows) {
        await client.boss.fail(
          queue,
          row.id,
          { error: `the worker running it stopped heartbeating for ${leaseSeconds}s` },
          { db },
        );
      }
      await conn.query(
        // a run its worker already recorded as over keeps that outcome (its job is run again and finds it done)
        `UPDATE ${QUEUE_SCHEMA}.runs SET status = 'retrying', error = 'its worker was lost'
          WHERE run_id = ANY($1) AND status = 'running'`,
        [rows.map((r) => r.run_id)],
      );
      logger.warn({ jobs: rows.length }, "queue: handed back the jobs of a lost worker");
    }
    await conn.query(
      `DELETE FROM ${QUEUE_SCHEMA}.workers WHERE heartbeat < now() - make_interval(secs => $1) AND jobs = '[]'`,
      [leaseSeconds * 10],
    );
    await conn.query("COMMIT");
  } catch (error) {
    await conn.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    conn.release();
  }
}
