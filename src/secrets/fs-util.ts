import { chmod, mkdir, readdir, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import lockfile from "proper-lockfile";
import { SiteloomError } from "../errors.ts";
import { writeFileAtomic as writeFileAtomicShared } from "../files.ts";

/** Atomic, durable write (src/files.ts) of a private file: mode 0600 unless told otherwise. */
export function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  return writeFileAtomicShared(file, data, { mode, mkdir: false });
}

/** Removes temp files a killed writer left behind (call only while holding the file's lock). */
export async function removeStaleTemps(file: string): Promise<void> {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(join(dir, n), { force: true })));
}

/** Creates a directory (and parents) with mode 0700, tightening an existing one we own. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/**
 * Runs `fn` holding an exclusive lock on `file` (a `<file>.lock` directory, proper-lockfile). A lock left by a killed
 * process is taken over once it is stale (not refreshed for `staleMs`).
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, staleMs = 10_000): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      lockfilePath: `${file}.lock`,
      stale: staleMs,
      update: Math.max(1000, staleMs / 2),
      retries: { retries: 2000, factor: 1.2, minTimeout: 2, maxTimeout: 60, randomize: true },
      onCompromised: () => {
        // another process took the lock over as stale; our write still lands atomically, so only note it
      },
    });
  } catch (error) {
    throw new SiteloomError(
      "ERR_LOCKED",
      `${file} is locked by another siteloom process; wait for it to finish (a lock left by a crash clears itself after ${Math.round(staleMs / 1000)} s)`,
      { cause: error },
    );
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
