import { chmod, mkdir, stat } from "node:fs/promises";
import lockfile from "proper-lockfile";
import { SiteloomError } from "../errors.ts";

/** Creates a directory (and parents) with mode 0700, tightening an existing one we own. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** What `withFileLock` hands its function: a way to check, right before a write, that the lock is still ours. */
export interface HeldLock {
  /** Throws ERR_LOCKED when another process has taken the lock over (this one stalled past `staleMs`). */
  assertHeld(): void;
}

/**
 * Runs `fn` holding an exclusive lock on `file` (a `<file>.lock` directory, proper-lockfile). A lock left by a killed
 * process is taken over once it is stale (not refreshed for `staleMs`); a process that was only stalled (SIGSTOP,
 * a paused VM) learns it lost the lock through `assertHeld`, and must not write.
 */
export async function withFileLock<T>(file: string, fn: (lock: HeldLock) => Promise<T>, staleMs = 10_000): Promise<T> {
  let release: () => Promise<void>;
  let compromised = false;
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      lockfilePath: `${file}.lock`,
      stale: staleMs,
      update: Math.max(1000, staleMs / 2),
      retries: { retries: 2000, factor: 1.2, minTimeout: 2, maxTimeout: 60, randomize: true },
      onCompromised: () => {
        // another process took the lock over as stale: whatever we read under it may be old, so no write may follow
        compromised = true;
      },
    });
  } catch (error) {
    throw new SiteloomError(
      "ERR_LOCKED",
      `${file} is locked by another siteloom process; wait for it to finish (a lock left by a crash clears itself after ${Math.round(staleMs / 1000)} s)`,
      { cause: error },
    );
  }
  const lock: HeldLock = {
    assertHeld() {
      if (compromised) throw _lostLock(file, staleMs);
    },
  };
  try {
    return await fn(lock);
  } finally {
    await release().catch(() => undefined);
  }
}

/** The error of a write whose lock was taken over, or whose file changed underneath it: nothing was written. */
export function lostLockError(file: string, staleMs: number): SiteloomError {
  return _lostLock(file, staleMs);
}

// --- internal ---

function _lostLock(file: string, staleMs: number): SiteloomError {
  return new SiteloomError(
    "ERR_LOCKED",
    `${file} was changed by another process while this one held its lock (it stalled for more than ${Math.round(staleMs / 1000)} s and the lock was taken over); nothing was written — run the command again`,
  );
}
