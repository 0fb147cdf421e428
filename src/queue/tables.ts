import type pg from "pg";
import { withPgTransaction } from "../store/index.ts";

/**
 * The queue's own tables, beside pg-boss's `pgboss` schema in the same database: the workers alive (heartbeats and
 * the jobs each holds), each queued run's timeline (enqueued, started, finished) and the progress events of runs,
 * which `siteloom runs --follow` reads from any machine. Created on first use like pg-boss creates its schema.
 */
export const QUEUE_SCHEMA = "siteloom_queue";

/** The NOTIFY channel of run progress events (payload: the run id). */
export const EVENTS_CHANNEL = "siteloom_run_events";

/** The NOTIFY channel that wakes the workers when a job was sent (payload: the queue name). */
export const JOBS_CHANNEL = "siteloom_queue_jobs";

/** pg-boss's schema in the queue database. */
export const BOSS_SCHEMA = "pgboss";

const DDL = `
CREATE SCHEMA IF NOT EXISTS ${QUEUE_SCHEMA};
CREATE TABLE IF NOT EXISTS ${QUEUE_SCHEMA}.workers (
  id text PRIMARY KEY,
  queue text NOT NULL,
  host text NOT NULL,
  pid integer NOT NULL,
  concurrency integer NOT NULL,
  started timestamptz NOT NULL DEFAULT now(),
  heartbeat timestamptz NOT NULL DEFAULT now(),
  jobs jsonb NOT NULL DEFAULT '[]',
  stopping boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS ${QUEUE_SCHEMA}.runs (
  run_id text PRIMARY KEY,
  job_id text,
  queue text NOT NULL,
  site text NOT NULL,
  env text NOT NULL,
  status text NOT NULL,
  enqueued timestamptz NOT NULL DEFAULT now(),
  started timestamptz,
  finished timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  worker text,
  error_code text,
  error text
);
CREATE INDEX IF NOT EXISTS runs_site ON ${QUEUE_SCHEMA}.runs (site, status);
CREATE TABLE IF NOT EXISTS ${QUEUE_SCHEMA}.run_events (
  seq bigserial PRIMARY KEY,
  run_id text NOT NULL,
  event jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS run_events_run ON ${QUEUE_SCHEMA}.run_events (run_id, seq);
`;

/** Creates the queue's tables if missing; several processes starting at once are serialised by an advisory lock. */
export async function ensureQueueTables(pool: pg.Pool): Promise<void> {
  await withPgTransaction(pool, { locks: [QUEUE_SCHEMA] }, (client) => client.query(DDL));
}
