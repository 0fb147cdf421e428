import type { RemoteFS, RemotePool } from "./types.ts";

export interface LazyPoolOptions {
  /** Opens and logs in one connection. */
  connect: () => Promise<RemoteFS>;
  /** Connections at most. */
  size: number;
  /** Whether an error means the connection is unusable (it is then closed and replaced on the next borrow). */
  isConnectionError?: (error: unknown) => boolean;
}

/**
 * A pool that opens connections only when work needs them, so a run that needs one request logs in once. Used by
 * export and deploy when the caller passes no pool of its own.
 */
export function createLazyPool(options: LazyPoolOptions): RemotePool {
  const idle: RemoteFS[] = [];
  const waiters: ((fs: RemoteFS | undefined) => void)[] = [];
  let open = 0;
  let opened = 0;
  let closed = false;
  const isConnectionError = options.isConnectionError ?? _looksLikeConnectionError;

  async function borrow(): Promise<RemoteFS> {
    const ready = idle.pop();
    if (ready !== undefined) return ready;
    if (open < options.size) {
      open++;
      try {
        const fs = await options.connect();
        opened++;
        return fs;
      } catch (error) {
        open--;
        _wakeOne();
        throw error;
      }
    }
    const fs = await new Promise<RemoteFS | undefined>((resolve) => waiters.push(resolve));
    return fs ?? borrow();
  }

  function give(fs: RemoteFS): void {
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(fs);
    else idle.push(fs);
  }

  function _wakeOne(): void {
    // a slot was freed: let a waiter open a fresh connection
    waiters.shift()?.(undefined);
  }

  return {
    size: options.size,
    get connectionsOpened() {
      return opened;
    },
    async run(fn) {
      if (closed) throw new Error("pool is closed");
      const fs = await borrow();
      try {
        const result = await fn(fs);
        give(fs);
        return result;
      } catch (error) {
        if (isConnectionError(error)) {
          open--;
          fs.close().catch(() => {});
          _wakeOne();
        } else {
          give(fs);
        }
        throw error;
      }
    },
    async close() {
      closed = true;
      const all = idle.splice(0);
      open -= all.length;
      await Promise.all(all.map((fs) => fs.close().catch(() => {})));
    },
  };
}

// --- internal ---

function _looksLikeConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (
    typeof code === "string" &&
    /^(ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED|ECONNABORTED|ERR_TRANSFER_CONNECT)$/.test(code)
  ) {
    return true;
  }
  if (code === 421) return true;
  const message = String((error as Error)?.message ?? "");
  return /\b421\b|closed|reset|timeout|timed out|not connected|ECONNRESET|EPIPE|socket/i.test(message);
}
