import type pg from "pg";
import { SiteloomError } from "../errors.ts";
import { connectPg } from "./pg-client.ts";
import { isConnectionError } from "./pg-errors.ts";

export interface PgTransactionOptions {
  /**
   * Advisory locks taken first, transaction-scoped (`pg_advisory_xact_lock(hashtextextended(key, 0))`), in sorted
   * order so two transactions never wait on each other crosswise; released by COMMIT or ROLLBACK.
   * @default []
   */
  locks?: string[];
  /** Names the database in the message of a commit whose connection was lost. @default "PostgreSQL" */
  location?: string;
}

/**
 * Runs `work` in one transaction on a connection of `pool`, under the advisory locks `options.locks`: BEGIN, the
 * locks, the work, COMMIT; ROLLBACK when the work fails. The one way the store, the call limiter and the queue's
 * tables do "a transaction under a lock", so every process on every machine is serialised the same way.
 *
 * A connection lost while committing fails with ERR_STORE saying the change may or may not have been saved (the
 * caller must not retry it blindly); a connection lost before is rethrown as is, and is safe to retry. A broken
 * connection is dropped from the pool, not reused.
 */
export async function withPgTransaction<T>(
  pool: pg.Pool,
  options: PgTransactionOptions,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await connectPg(pool);
  let committing = false;
  let broken = false;
  try {
    await client.query("BEGIN");
    for (const key of [...(options.locks ?? [])].sort()) {
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]);
    }
    const value = await work(client);
    committing = true;
    await client.query("COMMIT");
    return value;
  } catch (error) {
    broken = isConnectionError(error);
    if (!broken) await client.query("ROLLBACK").catch(() => undefined);
    if (committing && broken) {
      throw new SiteloomError(
        "ERR_STORE",
        `the connection to ${options.location ?? "PostgreSQL"} was lost while committing; the change may or may not have been saved`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
