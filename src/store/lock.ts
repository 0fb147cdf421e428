import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { SiteloomError } from "../errors.ts";
import { isProcessAlive } from "../processes.ts";
import type { LockRecord, StateStore } from "./types.ts";

/** Options of `acquireLock`. */
export interface AcquireLockOptions {
  store: StateStore;
  /** Lock name in the store: `site:<name>` (pipeline runs), `deploy:<site>:<env>` (a deploy target). */
  name: string;
  /** What holds the lock: the run id. Shown to whoever finds the lock held. */
  owner: string;
  /** What the lock protects, for messages: `site shop`, `the deploy of shop (production)`. */
  subject: string;
  /** The site the lock belongs to, attached to the errors. */
  site?: string;
  /** What to tell someone who finds the lock held. @default "wait for it to finish, or rerun with --wait <seconds>" */
  hint?: string;
  /** How long to wait for a held lock before failing; 0 fails at once. @default 0 */
  waitMs?: number;
  /**
   * The lease: each heartbeat extends the lock's expiry to now + leaseMs. A holder on another host whose lease has
   * run out is stale (its process or machine is gone). @default 60000
   */
  leaseMs?: number;
  /** How often the holder renews its lease. @default leaseMs / 4 */
  heartbeatMs?: number;
  /** How often a waiting process retries. @default 500 */
  pollMs?: number;
  /** Aborting it stops the wait (ERR_INTERRUPTED). */
  signal?: AbortSignal;
  /** Called once when the lock is held and we start waiting. */
  onWait?: (holder: LockRecord, message: string) => void;
  /** Called when a stale holder's lock is taken over. */
  onTakeover?: (previous: LockRecord, message: string) => void;
}

/** A held lock; `release` is safe to call twice, and runs synchronously with the SQLite store. */
export interface HeldLock {
  readonly name: string;
  readonly owner: string;
  /** The stale holder this lock was taken over from, if any. */
  readonly previous: LockRecord | undefined;
  release(): Promise<void>;
}

/** The default lease of a lock. */
export const DEFAULT_LEASE_MS = 60_000;

const DEFAULTS = {
  waitMs: 0,
  leaseMs: DEFAULT_LEASE_MS,
  pollMs: 500,
  hint: "wait for it to finish, or rerun with --wait <seconds>",
};

/**
 * The one lock of siteloom, kept in the state store: a named record with owner, pid, host, a heartbeat and a lease
 * expiry. The holder renews the lease while it works. A lock whose holder is gone is taken over with a message: on
 * this host, a holder whose process no longer exists is stale at once (a SIGKILLed run); on another host (a shared
 * store), a holder whose lease ran out. A lock still held is ERR_LOCKED (exit code 7).
 */
export async function acquireLock(options: AcquireLockOptions): Promise<HeldLock> {
  const opts = { ...DEFAULTS, ...options };
  const host = hostname();
  const deadline = Date.now() + opts.waitMs;
  let announced = false;
  for (;;) {
    const result = await opts.store.acquireLock(
      { name: opts.name, owner: opts.owner, pid: process.pid, host, leaseMs: opts.leaseMs },
      (holder) => isStaleHolder(holder, { host }),
    );
    if (result.acquired) {
      if (result.previous) {
        opts.onTakeover?.(
          result.previous,
          `${opts.subject}: ${_describe(result.previous)} is no longer running; took over its lock`,
        );
      }
      return _held(opts.store, opts.name, opts.owner, result.previous, opts.leaseMs, opts.heartbeatMs);
    }
    const holder = result.holder;
    if (Date.now() >= deadline) {
      throw new SiteloomError(
        "ERR_LOCKED",
        `${opts.subject} is being run by ${_describe(holder)}; ${opts.hint}`,
        opts.site === undefined ? {} : { site: opts.site },
      );
    }
    if (!announced) {
      announced = true;
      opts.onWait?.(holder, `${opts.subject} is being run by ${_describe(holder)}; waiting for it to finish`);
    }
    try {
      await sleep(Math.min(opts.pollMs, Math.max(1, deadline - Date.now())), undefined, { signal: opts.signal });
    } catch {
      throw new SiteloomError(
        "ERR_INTERRUPTED",
        `interrupted while waiting for the lock of ${opts.subject}`,
        opts.site === undefined ? {} : { site: opts.site },
      );
    }
  }
}

/**
 * Whether a lock holder is gone. On this host the process table decides: a dead pid is stale at once; a live pid
 * whose lease ran out ten times over is a reused pid, not our holder (a live holder that is merely slow to renew,
 * a long synchronous step or a stopped process, keeps its lock). On another host the lease decides.
 */
export function isStaleHolder(holder: LockRecord, options: { host: string; now?: number }): boolean {
  const now = options.now ?? Date.now();
  const expires = _expiry(holder);
  if (holder.host === options.host) {
    if (!isProcessAlive(holder.pid)) return true;
    const lease = Math.max(1, expires - Date.parse(holder.heartbeat));
    return now > expires + 9 * lease;
  }
  return now > expires;
}

export { isProcessAlive };

// --- internal ---

function _describe(holder: LockRecord): string {
  return `run ${holder.owner} (pid ${holder.pid} on ${holder.host}, since ${holder.acquired})`;
}

/** A record written before leases existed has no expiry: it lasted the default lease from its last heartbeat. */
function _expiry(holder: LockRecord): number {
  return holder.expires ? Date.parse(holder.expires) : Date.parse(holder.heartbeat) + DEFAULT_LEASE_MS;
}

function _held(
  store: StateStore,
  name: string,
  owner: string,
  previous: LockRecord | undefined,
  leaseMs: number,
  heartbeatMs: number | undefined,
): HeldLock {
  let released = false;
  const timer = setInterval(
    () => {
      store.heartbeatLock(name, owner, leaseMs).catch(() => {
        // A failed renewal only lets the lease run down; the next beat retries.
      });
    },
    heartbeatMs ?? Math.max(10, leaseMs / 4),
  );
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
