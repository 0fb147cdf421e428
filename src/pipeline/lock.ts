import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { SiteloomError } from "../errors.ts";
import type { LockRecord, StateStore } from "../store/index.ts";

export interface AcquireSiteLockOptions {
  store: StateStore;
  site: string;
  /** What holds the lock (the run id). */
  owner: string;
  /** How long to wait for a busy site before failing; 0 fails at once. @default 0 */
  waitMs?: number;
  /** A holder on another host whose heartbeat is older than this is stale. @default 60000 */
  staleMs?: number;
  /** How often the holder refreshes its heartbeat. @default staleMs / 4 */
  heartbeatMs?: number;
  /** How often a waiting process retries. @default 500 */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called once when the site is busy and we start waiting. */
  onWait?: (holder: LockRecord, message: string) => void;
  /** Called when a stale holder's lock is taken over. */
  onTakeover?: (previous: LockRecord, message: string) => void;
}

/** A held per-site lock; `release` is safe to call twice, and runs synchronously with the SQLite store. */
export interface SiteLock {
  readonly name: string;
  readonly owner: string;
  /** The stale holder this lock was taken over from, if any. */
  readonly previous: LockRecord | undefined;
  release(): Promise<void>;
}

const DEFAULTS = { waitMs: 0, staleMs: 60_000, pollMs: 500 };

/**
 * Takes the per-site run lock. A lock whose holder is gone is taken over with a message: on this host, a holder
 * whose process no longer exists is stale at once (a SIGKILLed run); on another host (a shared PostgreSQL store
 * later), a holder whose heartbeat stopped for `staleMs`.
 */
export async function acquireSiteLock(options: AcquireSiteLockOptions): Promise<SiteLock> {
  const opts = { ...DEFAULTS, ...options };
  const name = siteLockName(opts.site);
  const host = hostname();
  const deadline = Date.now() + opts.waitMs;
  let announced = false;
  for (;;) {
    const result = await opts.store.acquireLock({ name, owner: opts.owner, pid: process.pid, host }, (holder) =>
      isStaleHolder(holder, { host, staleMs: opts.staleMs }),
    );
    if (result.acquired) {
      if (result.previous) {
        opts.onTakeover?.(
          result.previous,
          `site ${opts.site}: ${_describe(result.previous)} is no longer running; took over its lock`,
        );
      }
      return _held(opts.store, name, opts.owner, result.previous, opts.heartbeatMs ?? opts.staleMs / 4);
    }
    const holder = result.holder;
    if (Date.now() >= deadline) {
      throw new SiteloomError(
        "ERR_LOCKED",
        `site ${opts.site} is being run by ${_describe(holder)}; wait for it to finish, or rerun with --wait <seconds>`,
        { site: opts.site },
      );
    }
    if (!announced) {
      announced = true;
      opts.onWait?.(holder, `site ${opts.site} is being run by ${_describe(holder)}; waiting for it to finish`);
    }
    try {
      await sleep(Math.min(opts.pollMs, Math.max(1, deadline - Date.now())), undefined, { signal: opts.signal });
    } catch {
      throw new SiteloomError("ERR_INTERRUPTED", `interrupted while waiting for the lock of site ${opts.site}`, {
        site: opts.site,
      });
    }
  }
}

/** The lock name of a site in the store. */
export function siteLockName(site: string): string {
  return `site:${site}`;
}

/** Whether a lock holder is gone (see acquireSiteLock). */
export function isStaleHolder(holder: LockRecord, options: { host: string; staleMs: number }): boolean {
  const age = Date.now() - Date.parse(holder.heartbeat);
  if (holder.host === options.host) {
    if (!isProcessAlive(holder.pid)) return true;
    // A live pid with a long-dead heartbeat is a reused pid, not our holder.
    return age > options.staleMs * 10;
  }
  return age > options.staleMs;
}

/** True when a process with this pid exists on this host. */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

// --- internal ---

function _describe(holder: LockRecord): string {
  return `run ${holder.owner} (pid ${holder.pid} on ${holder.host}, since ${holder.acquired})`;
}

function _held(
  store: StateStore,
  name: string,
  owner: string,
  previous: LockRecord | undefined,
  heartbeatMs: number,
): SiteLock {
  let released = false;
  const timer = setInterval(() => {
    store.heartbeatLock(name, owner).catch(() => {
      // A failed heartbeat only makes the lock look older to other hosts; the next beat retries.
    });
  }, heartbeatMs);
  timer.unref();
  return {
    name,
    owner,
    previous,
    release() {
      if (released) return Promise.resolve();
      released = true;
      clearInterval(timer);
      return store.releaseLock(name, owner);
    },
  };
}
