import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Logger } from "../log/index.ts";
import type { PipelineEvent } from "../pipeline/index.ts";
import { listenPg } from "../store/index.ts";
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
  // reads go through a one-connection pool, which reconnects by itself; the LISTEN only wakes the loop
  const reader = new pg.Pool({ connectionString: options.url, max: 1, application_name: "siteloom-follow" });
  reader.on("error", () => undefined);
  const listener = listenPg({
    url: options.url,
    channels: [EVENTS_CHANNEL],
    applicationName: "siteloom-follow-listen",
    onNotify: (_channel, payload) => {
      if (payload === options.runId) wake?.();
    },
    onListening: () => wake?.(),
  });
  const read = async () => {
    const { rows } = await reader
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
    await listener.close();
    await reader.end().catch(() => undefined);
  }
}

export interface TailRunEventsOptions {
  url: string;
  /** Every event stored from now on, of every run, in the order stored. */
  onEvent(event: PipelineEvent): void;
  /** Reads this often when no NOTIFY arrives (a missed one, a reconnect). @default 2000 */
  pollMs?: number;
}

/**
 * Follows the events of every queued run from now on (what `siteloom serve`'s console streams live for the runs the
 * workers run): LISTEN for the sink's NOTIFYs, then read what was stored after the last event seen. Returns the stop.
 */
export function tailRunEvents(options: TailRunEventsOptions): () => Promise<void> {
  const controller = new AbortController();
  let last: number | undefined;
  let wake: (() => void) | undefined;
  const reader = new pg.Pool({ connectionString: options.url, max: 1, application_name: "siteloom-console-events" });
  reader.on("error", () => undefined);
  const listener = listenPg({
    url: options.url,
    channels: [EVENTS_CHANNEL],
    applicationName: "siteloom-console-events-listen",
    onNotify: () => wake?.(),
    onListening: () => wake?.(),
  });
  const read = async () => {
    if (last === undefined) {
      const { rows } = await reader.query(`SELECT COALESCE(MAX(seq), 0) AS seq FROM ${QUEUE_SCHEMA}.run_events`);
      last = Number(rows[0]?.seq ?? 0);
      return;
    }
    const { rows } = await reader.query(
      `SELECT seq, event FROM ${QUEUE_SCHEMA}.run_events WHERE seq > $1 ORDER BY seq LIMIT 1000`,
      [last],
    );
    for (const row of rows as { seq: string; event: PipelineEvent }[]) {
      last = Number(row.seq);
      options.onEvent(row.event);
    }
  };
  const loop = (async () => {
    while (!controller.signal.aborted) {
      await read().catch(() => undefined);
      await new Promise<void>((resolve) => {
        wake = resolve;
        sleep(options.pollMs ?? 2000, undefined, { signal: controller.signal }).then(resolve, resolve);
      });
      wake = undefined;
    }
  })();
  return async () => {
    controller.abort();
    await loop;
    await listener.close();
    await reader.end().catch(() => undefined);
  };
}
