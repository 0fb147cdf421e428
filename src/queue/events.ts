import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Logger } from "../log/index.ts";
import type { PipelineEvent } from "../pipeline/index.ts";
import { EVENTS_CHANNEL, QUEUE_SCHEMA } from "./tables.ts";

/** Writes a run's events to PostgreSQL in order, each with a NOTIFY, so followers on any machine see them. */
export interface RunEventSink {
  push(event: PipelineEvent): void;
  /** Waits until every event pushed so far is written (or given up). */
  flush(): Promise<void>;
}

/**
 * A sink for one run's events. Writes are chained so they land in order; a write that fails (the database is
 * restarting) is dropped with a warning: progress is a view, the run record is what counts.
 */
export function createRunEventSink(pool: pg.Pool, runId: string, logger: Logger): RunEventSink {
  let chain: Promise<void> = Promise.resolve();
  let warned = false;
  return {
    push(event) {
      chain = chain.then(async () => {
        try {
          await pool.query(
            `WITH e AS (INSERT INTO ${QUEUE_SCHEMA}.run_events (run_id, event) VALUES ($1, $2) RETURNING seq)
             SELECT pg_notify($3, $1) FROM e`,
            [runId, JSON.stringify(event), EVENTS_CHANNEL],
          );
        } catch (error) {
          if (!warned) logger.warn({ err: error, runId }, "queue: a progress event could not be stored");
          warned = true;
        }
      });
    },
    flush: () => chain,
  };
}

export interface FollowRunOptions {
  url: string;
  runId: string;
  onEvent(event: PipelineEvent): void;
  /** Whether the run is over (succeeded, or failed for good: a job that will be retried is not). */
  isOver(): Promise<boolean>;
  signal?: AbortSignal;
  /** Polls this often when no NOTIFY arrives (a missed one, a reconnect). @default 1000 */
  pollMs?: number;
}

/** Streams a run's stored events, then new ones as they are NOTIFYed, until the run is over. */
export async function followRun(options: FollowRunOptions): Promise<void> {
  let last = 0;
  let wake: (() => void) | undefined;
  let client: pg.Client | undefined;
  const connect = async () => {
    const c = new pg.Client({ connectionString: options.url, application_name: "siteloom-follow" });
    c.on("error", () => {
      client = undefined;
    });
    c.on("notification", (message) => {
      if (message.payload === options.runId) wake?.();
    });
    await c.connect();
    await c.query(`LISTEN ${EVENTS_CHANNEL}`);
    client = c;
  };
  const read = async () => {
    if (!client) await connect().catch(() => undefined);
    if (!client) return;
    const { rows } = await client
      .query(`SELECT seq, event FROM ${QUEUE_SCHEMA}.run_events WHERE run_id = $1 AND seq > $2 ORDER BY seq`, [
        options.runId,
        last,
      ])
      .catch(() => ({ rows: [] as { seq: string; event: PipelineEvent }[] }));
    for (const row of rows) {
      last = Number(row.seq);
      options.onEvent(row.event);
    }
  };
  try {
    for (;;) {
      if (options.signal?.aborted) return;
      await read();
      // the worker marks the run over only after its events are stored: one more read has them all
      if (await options.isOver().catch(() => false)) return await read();
      const waited = new Promise<void>((resolve) => {
        wake = resolve;
      });
      await Promise.race([
        waited,
        sleep(options.pollMs ?? 1000, undefined, { signal: options.signal }).catch(() => {}),
      ]);
      wake = undefined;
    }
  } finally {
    await client?.end().catch(() => undefined);
  }
}
