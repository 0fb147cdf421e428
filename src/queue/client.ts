import { hostname } from "node:os";
import pg from "pg";
import PgBoss from "pg-boss";
import type { QueueConfig } from "../config/index.ts";
import { type ErrorCode, SiteloomError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import { runWithRetry } from "../retry.ts";
import { redact, redactUrl } from "../secret.ts";
import { connectPg, isConnectionError, withPgTransaction } from "../store/index.ts";
import type { Workspace } from "../workspace/index.ts";
import { BOSS_SCHEMA, ensureQueueTables, JOBS_CHANNEL, QUEUE_SCHEMA } from "./tables.ts";

/** What one queued pipeline job carries: one site of one run (a site's steps run in order on one worker). */
export interface RunJobData {
  runId: string;
  site: string;
  env: string;
  steps: string[] | undefined;
  dryRun: boolean;
  actor: string;
  /** `api`, `cli`, `schedule:<name>`. */
  via: string;
}

/** A run as the queue knows it (table siteloom_queue.runs). */
export interface QueuedRun {
  runId: string;
  jobId: string | undefined;
  queue: string;
  site: string;
  env: string;
  /** queued, running, retrying, succeeded, failed */
  status: string;
  enqueued: string;
  started: string | undefined;
  finished: string | undefined;
  attempts: number;
  worker: string | undefined;
  /** The SiteloomError code the run failed with (see errors.ts). */
  errorCode: ErrorCode | undefined;
  error: string | undefined;
  /** True when the site already had a job waiting: that run is returned instead of a second one. */
  alreadyQueued?: boolean;
}

export interface EnqueueRequest {
  sites: string[];
  env: string;
  steps: string[] | undefined;
  dryRun: boolean;
  actor: string;
  via: string;
  /** Queue name. @default config.name */
  queue?: string;
}

export interface OpenQueueOptions {
  /** PostgreSQL URL (resolved: it may hold a password; never printed). */
  url: string;
  config: QueueConfig;
  /** Workers run pg-boss's maintenance and cron monitor; clients (CLI, API) only send and read. @default "client" */
  role?: "worker" | "client";
  logger?: Logger;
}

/** An open connection to the queue: pg-boss and a small pool for the queue's own tables. */
export interface QueueClient {
  readonly boss: PgBoss;
  readonly pool: pg.Pool;
  readonly config: QueueConfig;
  /** The name of the dead-letter queue of `queue`. */
  deadLetterOf(queue: string): string;
  /**
   * Creates the run queue (and its dead letters) if missing; with `{ policy: "standard" }` a plain queue (the
   * relay of a schedule).
   */
  ensureQueue(queue: string, options?: { policy: "standard" }): Promise<void>;
  /** Enqueues one job per site; returns the runs in the order of the sites. */
  enqueue(request: EnqueueRequest): Promise<QueuedRun[]>;
  getRun(runId: string): Promise<QueuedRun | undefined>;
  listRuns(filter?: { status?: string; limit?: number }): Promise<QueuedRun[]>;
  close(): Promise<void>;
}

/** Job expiry: a last resort only; a dead worker's job is handed on by the heartbeat lease long before. */
const JOB_EXPIRE_SECONDS = 6 * 3600;

/**
 * The queue's PostgreSQL URL: `queue.url` (a reference, resolved), else the state store's URL when it is PostgreSQL
 * (`SITELOOM_STORE`, else `store.url`). Undefined when none is set: the workspace runs on one machine.
 */
export async function resolveQueueUrl(
  workspace: Workspace,
  vars: Record<string, string | undefined> = process.env,
): Promise<string | undefined> {
  const configured = workspace.config.queue.url;
  if (configured !== undefined) return (await workspace.resolve(configured, { field: "queue.url" })).reveal();
  const isPostgres = (url: string | undefined) => url?.startsWith("postgres://") || url?.startsWith("postgresql://");
  if (vars.SITELOOM_STORE) return isPostgres(vars.SITELOOM_STORE) ? vars.SITELOOM_STORE : undefined;
  const store = workspace.config.store.url;
  if (store === undefined) return undefined;
  const url = (await workspace.resolve(store, { field: "store.url" })).reveal();
  return isPostgres(url) ? url : undefined;
}

/**
 * Opens the workspace's queue; without a queue database configured, ERR_USAGE says how to set one (a workspace on
 * one machine runs everything in-process with `siteloom run`).
 */
export async function openWorkspaceQueue(
  workspace: Workspace,
  options: {
    role?: "worker" | "client";
    logger?: Logger;
    vars?: Record<string, string | undefined>;
    /**
     * Wait this long for a database that cannot be reached yet (a stack starting in any order: the name does not
     * resolve, the port refuses, PostgreSQL is starting up), retrying with backoff; other failures (a wrong
     * password, a missing database) end at once. @default 0 (fail at once)
     */
    waitSeconds?: number;
    /** Told before each wait: one line naming the database (password masked), the reason and the next try. */
    onWait?: (line: string) => void;
  } = {},
): Promise<{ client: QueueClient; url: string }> {
  const url = await resolveQueueUrl(workspace, options.vars);
  if (url === undefined) {
    throw new SiteloomError(
      "ERR_USAGE",
      "no job queue configured: set queue.url (e.g. ${SITELOOM_QUEUE_URL}) or a PostgreSQL state store (SITELOOM_STORE=postgres://...); on one machine use siteloom run without --queue",
    );
  }
  const open = () =>
    openQueue({
      url,
      config: workspace.config.queue,
      ...(options.role ? { role: options.role } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  const waitMs = (options.waitSeconds ?? 0) * 1000;
  if (waitMs <= 0) return { client: await open(), url };
  const deadline = Date.now() + waitMs;
  const client = await runWithRetry(open, {
    retries: Number.MAX_SAFE_INTEGER,
    baseMs: 500,
    maxMs: 5000,
    classify: (error) => ({
      retry: isConnectionError((error as { cause?: unknown }).cause ?? error) && Date.now() < deadline,
    }),
    onRetry: (info) =>
      options.onWait?.(
        `waiting for the database at ${redactUrl(url)} (${_firstLine(info.error)}); next try in ${Math.ceil(info.delayMs / 1000)} s, giving up ${Math.ceil((deadline - Date.now()) / 1000)} s from now`,
      ),
  });
  return { client, url };
}

/** Opens the queue (installing pg-boss's schema and the queue's tables on first use). */
export async function openQueue(options: OpenQueueOptions): Promise<QueueClient> {
  const logger = options.logger ?? createSilentLogger();
  const worker = options.role === "worker";
  const config = options.config;
  const boss = new PgBoss({
    connectionString: options.url,
    schema: BOSS_SCHEMA,
    application_name: `siteloom-${worker ? "worker" : "client"}`,
    max: worker ? 6 : 3,
    supervise: worker,
    schedule: worker,
    // how often pg-boss looks for a due schedule, and hands a fired one to its queue
    cronMonitorIntervalSeconds: config.scheduleCheckSeconds,
    cronWorkerIntervalSeconds: Math.min(5, config.scheduleCheckSeconds),
    // a lost connection is reported here and retried by the next poll; unhandled it would end the process
  });
  boss.on("error", (error) => logger.warn({ err: error }, "queue: database error (retrying)"));
  const pool = new pg.Pool({ connectionString: options.url, max: 4, application_name: "siteloom-queue" });
  pool.on("error", (error) => logger.warn({ err: error }, "queue: idle connection lost"));
  try {
    await boss.start();
    await ensureQueueTables(pool);
  } catch (error) {
    await boss.stop({ graceful: false, wait: false }).catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw new SiteloomError(
      "ERR_STORE",
      `cannot open the job queue at ${redactUrl(options.url)}: ${redact((error as Error).message)}; check queue.url (or the store's URL) and that PostgreSQL is running`,
      { cause: error },
    );
  }
  const ensured = new Set<string>();
  const deadLetterOf = (queue: string) => `${queue}-failed`;

  const client: QueueClient = {
    boss,
    pool,
    config,
    deadLetterOf,
    async ensureQueue(queue, plain) {
      if (ensured.has(queue)) return;
      // pg-boss creates a partition per queue: concurrent creations may deadlock, so one process at a time does it
      const lock = await connectPg(pool);
      try {
        await lock.query("SELECT pg_advisory_lock(hashtext($1))", [`${QUEUE_SCHEMA}.create-queue`]);
        const runQueue: PgBoss.Queue = {
          name: queue,
          // one job per site waiting and one active (singleton key = site): a site's runs never overlap
          policy: "stately",
          retryLimit: config.retryLimit,
          retryDelay: config.retryDelaySeconds,
          retryBackoff: true,
          expireInSeconds: JOB_EXPIRE_SECONDS,
          deadLetter: deadLetterOf(queue),
        };
        const wanted: PgBoss.Queue[] = plain
          ? [{ name: queue, policy: "standard" }]
          : [{ name: deadLetterOf(queue), policy: "standard" }, runQueue];
        for (const options of wanted) {
          if (!(await boss.getQueue(options.name))) await boss.createQueue(options.name, options);
        }
      } finally {
        await lock.query("SELECT pg_advisory_unlock(hashtext($1))", [`${QUEUE_SCHEMA}.create-queue`]).catch(() => {});
        lock.release();
      }
      ensured.add(queue);
    },
    async enqueue(request) {
      const queue = request.queue ?? config.name;
      await client.ensureQueue(queue);
      const { newRunId } = await import("../store/index.ts");
      // one transaction for every site: the queue's run rows and pg-boss's jobs are written together or not at all
      const enqueued: { runId?: string; site: string }[] = [];
      try {
        await withPgTransaction(pool, {}, async (conn) => {
          const db = { executeSql: (text: string, values: unknown[]) => conn.query(text, values) };
          for (const site of request.sites) {
            const runId = newRunId();
            const data: RunJobData = {
              runId,
              site,
              env: request.env,
              steps: request.steps,
              dryRun: request.dryRun,
              actor: request.actor,
              via: request.via,
            };
            const jobId = await boss.send(queue, data as unknown as object, { singletonKey: site, db });
            // null: the site already has a job waiting, and that run will do it
            if (jobId === null) {
              enqueued.push({ site });
              continue;
            }
            await conn.query(
              `INSERT INTO ${QUEUE_SCHEMA}.runs (run_id, job_id, queue, site, env, status) VALUES ($1, $2, $3, $4, $5, 'queued')`,
              [runId, jobId, queue, site, request.env],
            );
            enqueued.push({ runId, site });
          }
          // delivered on COMMIT: workers waiting on the queue fetch at once
          await conn.query("SELECT pg_notify($1, $2)", [JOBS_CHANNEL, queue]);
        });
      } catch (error) {
        // a commit whose connection was lost may have queued them: say so rather than "nothing was queued"
        const unsure = error instanceof SiteloomError && error.code === "ERR_STORE";
        throw new SiteloomError(
          "ERR_STORE",
          `cannot enqueue ${request.sites.join(", ")}: ${redact((error as Error).message)}${unsure ? "; check siteloom runs before enqueuing again" : "; nothing was queued"}`,
          { cause: error },
        );
      }
      const runs: QueuedRun[] = [];
      for (const item of enqueued) {
        const run = item.runId ? await client.getRun(item.runId) : await _waitingRun(pool, queue, item.site);
        if (run) runs.push(item.runId ? run : { ...run, alreadyQueued: true });
      }
      return runs;
    },
    async getRun(runId) {
      const { rows } = await pool.query(`SELECT * FROM ${QUEUE_SCHEMA}.runs WHERE run_id = $1`, [runId]);
      return rows[0] ? _run(rows[0]) : undefined;
    },
    async listRuns(filter = {}) {
      const { rows } = await pool.query(
        `SELECT * FROM ${QUEUE_SCHEMA}.runs WHERE ($1::text IS NULL OR status = $1) ORDER BY enqueued DESC LIMIT $2`,
        [filter.status ?? null, filter.limit ?? 50],
      );
      return rows.map(_run);
    },
    async close() {
      await boss.stop({ graceful: false, wait: true, close: true }).catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
  return client;
}

/** The worker's identity: host, pid and a random suffix (a restarted process is another worker). */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

// --- internal ---

async function _waitingRun(pool: pg.Pool, queue: string, site: string): Promise<QueuedRun | undefined> {
  const { rows } = await pool.query(
    `SELECT * FROM ${QUEUE_SCHEMA}.runs WHERE queue = $1 AND site = $2 AND status IN ('queued', 'retrying')
      ORDER BY enqueued LIMIT 1`,
    [queue, site],
  );
  return rows[0] ? _run(rows[0]) : undefined;
}

function _iso(value: unknown): string | undefined {
  return value instanceof Date ? value.toISOString() : value == null ? undefined : String(value);
}

function _run(row: Record<string, unknown>): QueuedRun {
  return {
    runId: String(row.run_id),
    jobId: row.job_id == null ? undefined : String(row.job_id),
    queue: String(row.queue),
    site: String(row.site),
    env: String(row.env),
    status: String(row.status),
    enqueued: _iso(row.enqueued) as string,
    started: _iso(row.started),
    finished: _iso(row.finished),
    attempts: Number(row.attempts),
    worker: row.worker == null ? undefined : String(row.worker),
    errorCode: row.error_code == null ? undefined : (String(row.error_code) as ErrorCode),
    error: row.error == null ? undefined : String(row.error),
  };
}

function _firstLine(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause ?? error;
  const e = cause as { code?: string; message?: string };
  return redact(e.code ?? e.message?.split("\n")[0] ?? String(cause));
}
