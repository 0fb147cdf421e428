import { SiteloomError } from "../errors.ts";
import { runWithRetry } from "../retry.ts";
import type { RemoteFS, RemotePool } from "./types.ts";

export interface RemotePoolOptions {
  /** Opens and logs in one connection. */
  connect: () => Promise<RemoteFS>;
  /** Connections at most (config `deploy.parallel`). @default 8 */
  size?: number;
  /** Whether an error means the connection is unusable. @default isConnectionError */
  isConnectionError?: (error: unknown) => boolean;
  /** How often `run` retries an operation on a fresh connection after a connection-level error. @default 1 */
  reconnectRetries?: number;
  /** Told about every connection discarded (statistics, --verbose). */
  onDiscard?: (error: unknown) => void;
  /** Told when a refused extra login lowers the number of connections used (a per-IP limit on the host). */
  onLimit?: (connections: number, error: unknown) => void;
}

/**
 * A pool of up to `size` logged-in connections, opened lazily (a run that needs one request logs in once).
 * `run(fn)` borrows a connection; when `fn` fails with a connection-level error (421, reset, timeout, TLS, closed
 * socket) the connection is closed and forgotten, the slot is freed for a fresh one, and `fn` is retried on a new
 * connection (`reconnectRetries` times). Operation errors (550 …) are rethrown unchanged and keep the connection.
 * When an extra login fails at connection level while other connections are open (hosts often limit connections
 * per IP), the pool keeps working with the connections it has instead of failing.
 * Because FTP has one transfer per control connection, parallel work is `Promise.all` over `pool.run`. A connection
 * that multiplexes (SFTP, `RemoteFS.lanes`) is lent out that many times at once: an idle connection goes first, then
 * a new login, then a free lane of a busy one; `size` is then connections × lanes.
 */
export function createRemotePool(options: RemotePoolOptions): RemotePool {
  const size = Math.max(1, options.size ?? 8);
  const classify = options.isConnectionError ?? isConnectionError;
  const retries = options.reconnectRetries ?? 1;
  // every open connection and how many operations it carries now (up to its `lanes`)
  const lent = new Map<RemoteFS, number>();
  const waiters: Array<() => void> = [];
  let slotsInUse = 0;
  // Lowered when the server refuses extra logins (per-IP limits) while other connections work.
  let limit = size;
  // operations one connection carries at once, learnt from the first one (SFTP multiplexes; FTP: 1)
  let lanes = 1;
  let opened = 0;
  let closed = false;

  async function acquire(): Promise<RemoteFS> {
    for (;;) {
      if (closed) throw new SiteloomError("ERR_TRANSFER_CONNECT", "transfer: the connection pool is closed");
      // an idle connection first (the one released last: the least likely to have been closed by the server's idle
      // timeout), then a new login, then a free lane of the least busy connection
      let idle: RemoteFS | undefined;
      let pick: RemoteFS | undefined;
      let load = Number.POSITIVE_INFINITY;
      let replaced = false;
      for (const [fs, n] of lent) {
        if (n === 0 && fs.closed === true) {
          // closed while idle (the server's idle timeout): replaced, not lent out to fail
          discard(fs, new Error("the server closed the idle connection"));
          replaced = true;
          break;
        }
        if (n === 0) idle = fs;
        else if (n < _lanesOf(fs) && n < load && fs.closed !== true) {
          pick = fs;
          load = n;
        }
      }
      if (replaced) continue;
      if (idle !== undefined) {
        lent.set(idle, 1);
        return idle;
      }
      if (slotsInUse < limit) {
        slotsInUse++;
        try {
          const fs = await options.connect();
          opened++;
          lanes = _lanesOf(fs);
          lent.set(fs, 1);
          // its other lanes are free at once: every waiter looks again
          if (lanes > 1) _wakeAll();
          return fs;
        } catch (error) {
          slotsInUse--;
          if (classify(error) && slotsInUse > 0) {
            // Other connections work: the host limits connections per client. Share those instead of failing.
            limit = slotsInUse;
            options.onLimit?.(limit, error);
            continue;
          }
          _wake();
          throw error;
        }
      }
      if (pick !== undefined) {
        lent.set(pick, load + 1);
        return pick;
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  function release(fs: RemoteFS): void {
    if (closed) {
      void fs.close().catch(() => undefined);
      return;
    }
    const n = lent.get(fs);
    if (n === undefined) return; // discarded while another operation carried it
    // the map keeps idle connections in the order they were released: the last one is lent out first
    if (n <= 1) lent.delete(fs);
    lent.set(fs, Math.max(0, n - 1));
    _wake();
  }

  function discard(fs: RemoteFS, error: unknown): void {
    if (!lent.delete(fs)) return; // already discarded by another operation it carried
    slotsInUse--;
    options.onDiscard?.(error);
    // Closing a dead connection can hang on a stalled socket: never wait for it.
    void fs.close().catch(() => undefined);
    _wake();
  }

  function _wake(): void {
    const next = waiters.shift();
    next?.();
  }

  function _wakeAll(): void {
    for (const wake of waiters.splice(0)) wake();
  }

  return {
    get size() {
      return size * lanes;
    },
    get connectionsOpened() {
      return opened;
    },
    run<T>(fn: (fs: RemoteFS) => Promise<T>): Promise<T> {
      // A broken connection (or a login that hit a dead or stalled socket) is retried on a fresh one, at once: the
      // backoff is for a server that is busy, not for a connection that is gone.
      return runWithRetry(
        async () => {
          const fs = await acquire();
          let result: T;
          try {
            result = await fn(fs);
          } catch (error) {
            if (classify(error)) discard(fs, error);
            else release(fs);
            throw error;
          }
          release(fs);
          return result;
        },
        { retries, baseMs: 0, classify: (error) => ({ retry: classify(error) && !closed }) },
      );
    },
    prewarm(count) {
      // logins in the background, for work that is about to come; a refused one is simply not there
      const wanted = Math.min(Math.ceil(count / lanes), limit) - slotsInUse;
      for (let i = 0; i < wanted && !closed; i++) {
        slotsInUse++;
        options.connect().then(
          (fs) => {
            opened++;
            if (closed) {
              void fs.close().catch(() => undefined);
              return;
            }
            lanes = _lanesOf(fs);
            lent.set(fs, 0);
            _wakeAll();
          },
          () => {
            slotsInUse--;
            _wake();
          },
        );
      }
    },
    async each(fn) {
      // every idle connection, borrowed whole at once; one that breaks is discarded as in `run`
      const borrowed = [...lent].filter(([, n]) => n === 0).map(([fs]) => fs);
      for (const fs of borrowed) lent.set(fs, _lanesOf(fs));
      const giveBack = (fs: RemoteFS) => {
        if (lent.has(fs)) lent.set(fs, 1);
        release(fs);
      };
      await Promise.all(
        borrowed.map(async (fs) => {
          try {
            await fn(fs);
          } catch (error) {
            if (classify(error)) {
              discard(fs, error);
              return;
            }
            giveBack(fs);
            throw error;
          }
          giveBack(fs);
        }),
      );
    },
    async close() {
      closed = true;
      const open = [...lent.keys()];
      lent.clear();
      _wakeAll();
      await Promise.all(open.map((fs) => fs.close().catch(() => undefined)));
    },
  };
}

/**
 * Whether an error means the connection itself is broken (so it must be replaced), as opposed to an operation the
 * server refused (550 no such file, 553 not allowed) on a healthy connection.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof SiteloomError) {
    if (error.code === "ERR_TRANSFER_CONNECT" || error.code === "ERR_TRANSFER_TLS") return true;
    if (error.code !== "ERR_TRANSFER_IO") return false;
    return error.cause !== undefined && isConnectionError(error.cause);
  }
  if (!(error instanceof Error)) return false;
  const ftpCode = (error as { code?: unknown }).code;
  if (typeof ftpCode === "number") return _FTP_CONNECTION_CODES.has(ftpCode);
  if (typeof ftpCode === "string" && (_NODE_CONNECTION_CODES.has(ftpCode) || /^ERR_(SSL|TLS)_/.test(ftpCode))) {
    return true;
  }
  const level = (error as { level?: unknown }).level;
  if (level === "client-socket" || level === "client-timeout") return true; // ssh2
  return _CONNECTION_MESSAGES.test(error.message);
}

/** Whether a server refused an operation because the path is not there (550, no such file, ENOENT). */
export function isMissingError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /\b550\b|no such file|not found|ENOENT/i.test(message);
}

// --- internal ---

function _lanesOf(fs: RemoteFS): number {
  return Math.max(1, Math.floor(fs.lanes ?? 1));
}

// 421 service closing; 425 cannot open data connection; 426 data connection closed, transfer aborted.
const _FTP_CONNECTION_CODES = new Set([421, 425, 426]);
const _NODE_CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "EPROTO",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_SOCKET_CLOSED",
  "ERR_NOT_CONNECTED", // ssh2-sftp-client
  "ERR_GENERIC_CLIENT",
]);
const _CONNECTION_MESSAGES =
  /timeout|timed out|client is closed|socket (hang up|closed)|closed by (the )?server|FIN packet|connection (lost|closed|reset)|no sftp connection|not connected|ECONNRESET|EPIPE|premature close|TLS|SSL/i;
