import { SiteloomError } from "../errors.ts";
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
 * Because FTP has one transfer per control connection, parallel work is `Promise.all` over `pool.run`.
 */
export function createRemotePool(options: RemotePoolOptions): RemotePool {
  const size = Math.max(1, options.size ?? 8);
  const classify = options.isConnectionError ?? isConnectionError;
  const retries = options.reconnectRetries ?? 1;
  const idle: RemoteFS[] = [];
  const waiters: Array<() => void> = [];
  const all = new Set<RemoteFS>();
  let slotsInUse = 0;
  // Lowered when the server refuses extra logins (per-IP limits) while other connections work.
  let limit = size;
  let opened = 0;
  let closed = false;

  async function acquire(): Promise<RemoteFS> {
    for (;;) {
      if (closed) throw new SiteloomError("ERR_TRANSFER_CONNECT", "transfer: the connection pool is closed");
      const ready = idle.pop();
      if (ready !== undefined) return ready;
      if (slotsInUse < limit) {
        slotsInUse++;
        try {
          const fs = await options.connect();
          opened++;
          all.add(fs);
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
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  function release(fs: RemoteFS): void {
    if (closed) {
      void fs.close().catch(() => undefined);
      return;
    }
    idle.push(fs);
    _wake();
  }

  function discard(fs: RemoteFS, error: unknown): void {
    all.delete(fs);
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

  return {
    size,
    get connectionsOpened() {
      return opened;
    },
    async run<T>(fn: (fs: RemoteFS) => Promise<T>): Promise<T> {
      let attempt = 0;
      for (;;) {
        let fs: RemoteFS;
        try {
          fs = await acquire();
        } catch (error) {
          // A login that hit a dead or stalled socket: one more try on a fresh one, like a broken connection.
          if (classify(error) && attempt++ < retries && !closed) continue;
          throw error;
        }
        let result: T;
        try {
          result = await fn(fs);
        } catch (error) {
          if (classify(error)) {
            discard(fs, error);
            if (attempt++ < retries && !closed) continue;
          } else {
            release(fs);
          }
          throw error;
        }
        release(fs);
        return result;
      }
    },
    prewarm(count) {
      // logins in the background, for work that is about to come; a refused one is simply not there
      const wanted = Math.min(count, limit) - slotsInUse;
      for (let i = 0; i < wanted && !closed; i++) {
        slotsInUse++;
        options.connect().then(
          (fs) => {
            opened++;
            all.add(fs);
            release(fs);
          },
          () => {
            slotsInUse--;
            _wake();
          },
        );
      }
    },
    async each(fn) {
      // every idle connection, borrowed at once; one that breaks is discarded as in `run`
      const borrowed = idle.splice(0);
      await Promise.all(
        borrowed.map(async (fs) => {
          try {
            await fn(fs);
          } catch (error) {
            if (classify(error)) {
              discard(fs, error);
              return;
            }
            release(fs);
            throw error;
          }
          release(fs);
        }),
      );
    },
    async close() {
      closed = true;
      const open = [...all];
      all.clear();
      idle.length = 0;
      for (const wake of waiters.splice(0)) wake();
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

// --- internal ---

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
