import type pg from "pg";

/**
 * The one way to check a client out of a `pg.Pool` for longer than a single `pool.query`.
 *
 * A checked-out client has no `error` listener of the pool's (pg-pool removes it on checkout), and node-postgres
 * emits `error` on the client when the server ends the connection between two statements — PostgreSQL's shutdown
 * or restart sends that to every backend at once. Unheard, that event ends the process. The client returned here
 * listens for as long as it is held; `release()` hands a connection that failed back as broken (the pool drops it
 * instead of lending it again), and a dropped client keeps a listener for the late socket errors of its closing.
 */
export async function connectPg(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost ??= error;
  };
  client.on("error", onError);
  const release = client.release.bind(client);
  client.release = (broken?: Error | boolean) => {
    const failed = broken || lost;
    if (!failed) client.off("error", onError);
    release(failed ?? false);
  };
  return client;
}
