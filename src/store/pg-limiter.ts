import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { connectPg } from "./pg-client.ts";
import { loadPg } from "./pg-module.ts";
import { withPgTransaction } from "./pg-transaction.ts";
import type { CallLimiter, CallLimits } from "./types.ts";

/** How long a waiter pauses between two looks at the slots (a model call takes seconds). */
const POLL_MS = 100;
/** The window of `perMinute`. */
const WINDOW_SECONDS = 60;

/**
 * Limits that hold for every process on every machine sharing the database:
 * - `concurrency`: a call holds one of N session-level advisory locks (`pg_try_advisory_lock(key, slot)`) on a
 *   connection of its own for as long as it runs; a process that dies loses its connection and so its slots at once;
 * - `perMinute`: each call start is logged in `siteloom_call_log` in a transaction serialised by an advisory lock
 *   on the limit's name, and granted only while fewer than `perMinute` starts lie in the last 60 s (the server's
 *   clock, one for every machine); a refused start waits until the oldest of them leaves the window.
 *
 * `url` gives the database's URL once the store has migrated it (the log table is migration 9).
 */
export function createPgCallLimiter(url: () => Promise<string>, name: string, limits: CallLimits): CallLimiter {
  let pool: Promise<pg.Pool> | undefined;
  const open = () => {
    pool ??= (async () => {
      const created = new (await loadPg()).Pool({
        connectionString: await url(),
        // one connection per slot held, one for the request log
        max: limits.concurrency + 1,
        application_name: "siteloom-limits",
      });
      created.on("error", () => undefined);
      return created;
    })();
    pool.catch(() => {
      pool = undefined;
    });
    return pool;
  };

  const takeSlot = async (signal: AbortSignal | undefined): Promise<pg.PoolClient & { slot?: number }> => {
    const p = await open();
    for (;;) {
      signal?.throwIfAborted();
      const client = await connectPg(p);
      const first = Math.floor(Math.random() * limits.concurrency);
      try {
        for (let i = 0; i < limits.concurrency; i++) {
          const slot = (first + i) % limits.concurrency;
          const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1), $2) AS ok", [
            `siteloom:slots:${name}`,
            slot,
          ]);
          if (rows[0]?.ok) return Object.assign(client, { slot });
        }
      } catch (error) {
        // a connection lost while looking: handed back (the pool drops it), never kept out of the pool for good
        client.release(true);
        throw error;
      }
      client.release();
      await sleep(POLL_MS * (0.5 + Math.random()), undefined, { signal });
    }
  };

  const logStart = async (signal: AbortSignal | undefined): Promise<void> => {
    const perMinute = limits.perMinute;
    if (perMinute === undefined) return;
    const p = await open();
    for (;;) {
      signal?.throwIfAborted();
      const waitMs = await withPgTransaction(p, { locks: [`siteloom:rate:${name}`] }, async (client) => {
        await client.query(
          `DELETE FROM siteloom_call_log WHERE name = $1 AND at <= clock_timestamp() - make_interval(secs => $2)`,
          [name, WINDOW_SECONDS],
        );
        const { rows } = await client.query<{ n: number; wait_ms: number | null }>(
          `SELECT count(*)::int AS n,
             EXTRACT(EPOCH FROM (min(at) + make_interval(secs => $2) - clock_timestamp())) * 1000 AS wait_ms
             FROM siteloom_call_log WHERE name = $1`,
          [name, WINDOW_SECONDS],
        );
        const row = rows[0];
        if ((row?.n ?? 0) >= perMinute) return Math.max(1, Number(row?.wait_ms ?? POLL_MS));
        await client.query("INSERT INTO siteloom_call_log (name) VALUES ($1)", [name]);
        return 0;
      });
      if (waitMs === 0) return;
      await sleep(waitMs, undefined, { signal });
    }
  };

  return {
    async run(fn, signal) {
      const held = await takeSlot(signal);
      let broken = false;
      try {
        await logStart(signal);
        return await fn();
      } finally {
        try {
          await held.query("SELECT pg_advisory_unlock(hashtext($1), $2)", [`siteloom:slots:${name}`, held.slot]);
        } catch {
          // a lost connection has released its locks with it
          broken = true;
        }
        held.release(broken);
      }
    },
    async close() {
      const p = await pool?.catch(() => undefined);
      pool = undefined;
      await p?.end().catch(() => undefined);
    },
  };
}
