import { AsyncLocalStorage } from "node:async_hooks";
import { constants } from "node:fs";
import { access, mkdir, readFile, rmdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import lockfile from "proper-lockfile";
import { type Document, parseDocument } from "yaml";
import { SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import { fsyncDir, writeFileAtomic } from "../files.ts";
import { SITE_FILE } from "./files.ts";

/**
 * An edit of a config file: change `doc` in place (comments, key order and layout of everything else are kept), or
 * return the whole new text. Runs while the file is locked, on the text as it is on disk at that moment.
 */
export type ConfigEdit = (doc: Document, text: string) => string | undefined;

export interface UpdateConfigFileOptions {
  /** Environment recorded with the `config.write` event. @default "-" */
  env?: string | undefined;
  /** Who writes (a token name for the API). @default currentActor() */
  actor?: string | undefined;
  /** The file as the event names it, relative to the workspace. @default the file's base name */
  ref?: string | undefined;
  /** What changed, appended to the event's ref as `#<detail>` (a dotted path, never a value). */
  detail?: string | undefined;
  /** The caller already holds the file's lock (`withConfigFileLock`), e.g. to check a version first. */
  locked?: boolean;
  /**
   * Publish the `config.write` event (audit log, alerts, metrics). The HTTP API turns this off: its own audit entry
   * for the request (`config.patch`, `config.rollback`) is the one record of the change. @default true
   */
  publish?: boolean;
}

export interface RemoveConfigFileOptions extends Omit<UpdateConfigFileOptions, "detail"> {
  /** Remove the file's folder too when nothing else is left in it (a removed site's). @default false */
  folder?: boolean;
}

export interface ConfigFileUpdate {
  /** The text before the edit ("" for a new file). */
  before: string;
  /** The text after the edit. */
  after: string;
  /** False when the edit changed nothing (nothing was written, no event). */
  changed: boolean;
}

/**
 * The one way siteloom writes a configuration file (siteloom.yaml, a site.yaml): under the file's lock (one writer at
 * a time in this process and across processes), the edit is applied to the text read under that lock, the result is
 * written atomically (the file's mode kept) and a `config.write` event is published. Reruns are safe: an edit that
 * changes nothing writes nothing.
 */
export async function updateConfigFile(
  file: string,
  edit: ConfigEdit,
  options: UpdateConfigFileOptions = {},
): Promise<ConfigFileUpdate> {
  const run = async (): Promise<ConfigFileUpdate> => {
    const before = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw error;
    });
    const doc = parseDocument(before);
    if (doc.errors.length > 0) {
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `${options.ref ?? basename(file)} is not valid YAML (${doc.errors[0]!.message.split("\n")[0]}); fix it before changing it`,
      );
    }
    const returned = edit(doc, before);
    const after = typeof returned === "string" ? returned : doc.toString();
    if (after === before) return { before, after, changed: false };
    await _checkFolder(file, dirname(file));
    const mode = (await stat(file).catch(() => undefined))?.mode;
    await writeFileAtomic(file, after, { mode: mode === undefined ? 0o644 : mode & 0o777 });
    const ref = options.ref ?? basename(file);
    if (options.publish === false) return { before, after, changed: true };
    publishEvent({
      action: "config.write",
      ref: options.detail ? `${ref}#${options.detail}` : ref,
      env: options.env ?? "-",
      actor: options.actor ?? currentActor(),
      outcome: "ok",
    });
    return { before, after, changed: true };
  };
  return options.locked ? run() : withConfigFileLock([file], run);
}

/**
 * Deletes a configuration file (a site.yaml a newer recorded version no longer has) under its lock, as
 * `updateConfigFile` writes one: the unlink is atomic, made durable in its folder, and published as a `config.write`
 * event. Only `expected` is deleted: a file whose text differs (edited meanwhile) is kept. Resolves whether the file
 * was deleted (false when it was already gone or differs).
 */
export async function removeConfigFile(
  file: string,
  expected: string,
  options: RemoveConfigFileOptions = {},
): Promise<boolean> {
  const run = async (): Promise<boolean> => {
    const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (text !== expected) return false;
    await _checkFolder(file, dirname(file));
    await unlink(file);
    fsyncDir(dirname(file));
    if (options.folder) {
      // an older build's lock inside the folder would keep it from going: released first (the new one is still held)
      await releaseInFolderLock(file);
      await rmdir(dirname(file)).catch(() => undefined);
    }
    if (options.publish === false) return true;
    publishEvent({
      action: "config.write",
      ref: `${options.ref ?? basename(file)}#removed`,
      env: options.env ?? "-",
      actor: options.actor ?? currentActor(),
      outcome: "ok",
    });
    return true;
  };
  return options.locked ? run() : withConfigFileLock([file], run);
}

/**
 * Runs `fn` holding the write lock of every file given: first an in-process queue per file (so concurrent writers of
 * one process wait their turn without polling), then a lock file (`configLockFile`, proper-lockfile) that other
 * siteloom processes (another `serve`, a CLI) respect. Files are locked in sorted order, so two writers of
 * overlapping sets cannot deadlock. Called again inside `fn` (a write made under a caller's lock), it takes only the
 * locks not held already. A lock left by a killed process is taken over once stale; if ours is taken over
 * while `fn` runs, the result is refused.
 */
export async function withConfigFileLock<T>(files: readonly string[], fn: () => Promise<T>): Promise<T> {
  // a write made inside `fn` (updateConfigFile without `locked`) finds the files it needs held already; a callback
  // that outlives `fn` (a connection opened inside it) sees them released
  const outer = HELD.getStore();
  const held = outer?.open ? outer.files : new Set<string>();
  const sorted = [...new Set(files.map((f) => resolve(f)))].filter((f) => !held.has(f)).sort();
  const inside = { files: new Set([...held, ...sorted]), open: true };
  const run = async () => {
    try {
      return await HELD.run(inside, fn);
    } finally {
      inside.open = false;
    }
  };
  const acquire = (i: number): Promise<T> =>
    i === sorted.length ? run() : _withLock(sorted[i]!, () => acquire(i + 1));
  return acquire(0);
}

/**
 * Releases the older builds' lock inside `file`'s folder (`.<name>.lock`, taken by `withConfigFileLock` during a rolling
 * update) before the folder itself is changed (a site's folder renamed, emptied or removed under the lock), so the lock
 * is neither deleted while held nor left behind; the lock beside the folder is still held. Nothing when none is held.
 */
export async function releaseInFolderLock(file: string): Promise<void> {
  const release = IN_FOLDER.get(resolve(file));
  IN_FOLDER.delete(resolve(file));
  await release?.().catch(() => undefined);
}

/**
 * The one rule of whether this process may write a configuration file: its folder, or the folder of its lock, when
 * this process cannot write it (a read-only mount, another owner), throws ERR_PERMISSIONS saying what to do (a folder
 * not there yet passes). Locking checks the lock's folder first, since the lock library would retry such a folder for
 * a minute and a half and then blame another process, and a write or removal checks the file's; a follower of the
 * recorded versions checks both for the files a version changes, to skip a read-only workspace with one note.
 */
export async function checkWritableFolder(file: string): Promise<void> {
  await _checkFolder(file, dirname(file));
  const lockFolder = dirname(configLockFile(file));
  if (lockFolder !== dirname(file)) await _checkFolder(file, lockFolder);
}

/**
 * Where a configuration file's lock lives: `.<name>.lock` beside it, except a site's `site.yaml`, whose lock is beside
 * its folder (`sites/.<site>.site.yaml.lock`): a site folder is created (`site add`, a follower taking a new site) and
 * removed (a follower taking a removal) under that lock, which a lock inside the folder would not allow.
 */
export function configLockFile(file: string): string {
  const folder = dirname(file);
  if (basename(file) === SITE_FILE) return join(dirname(folder), `.${basename(folder)}.${SITE_FILE}.lock`);
  return join(folder, `.${basename(file)}.lock`);
}

// --- internal ---

async function _checkFolder(file: string, folder: string): Promise<void> {
  try {
    await access(folder, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EROFS" && code !== "EACCES" && code !== "EPERM") return;
    throw new SiteloomError(
      "ERR_PERMISSIONS",
      `${basename(file)} cannot be changed here: ${folder} is ${code === "EROFS" ? "on a read-only file system" : "not writable by this user"}; change the files where they are kept (a container's mounted configuration), then run siteloom config push`,
      { cause: error },
    );
  }
}

const STALE_MS = 10_000;
/** The files whose locks the current call chain holds (so a nested withConfigFileLock does not wait on itself). */
const HELD = new AsyncLocalStorage<{ files: ReadonlySet<string>; open: boolean }>();
const queues = new Map<string, Promise<void>>();

async function _withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => {
    done = r;
  });
  const tail = previous.then(() => mine);
  queues.set(file, tail);
  await previous;
  try {
    const lockPath = configLockFile(file);
    // only the lock's folder: the file's own is checked where it is written (a site folder of another owner that no
    // change touches is locked all the same, its lock being beside it)
    await _checkFolder(file, dirname(lockPath));
    // a site's first site.yaml: its lock's folder (sites/) may not be there yet
    if (dirname(lockPath) !== dirname(file)) await mkdir(dirname(lockPath), { recursive: true });
    let compromised: Error | undefined;
    const onCompromised = (error: Error) => {
      compromised = error;
    };
    const release = await _lock(file, lockPath, onCompromised);
    try {
      // the lock an older build takes (`.<name>.lock` beside the file, inside a site's folder) too, while a rolling
      // update runs: old and new processes then exclude each other; none where the folder is not there or not ours
      const inFolder = _inFolderLockFile(file);
      if (inFolder !== lockPath && (await _writableFolder(dirname(inFolder)))) {
        const releaseInFolder = await _lock(file, inFolder, onCompromised);
        IN_FOLDER.set(file, releaseInFolder);
      }
      const result = await fn();
      if (compromised) {
        throw new SiteloomError(
          "ERR_LOCKED",
          `the lock of ${basename(file)} was taken over by another process while this change was written; check the file and try again`,
          { cause: compromised },
        );
      }
      return result;
    } finally {
      await releaseInFolderLock(file);
      await release().catch(() => undefined);
    }
  } finally {
    done();
    if (queues.get(file) === tail) queues.delete(file);
  }
}

/** The lock file of `file` for builds before the site.yaml's lock moved beside its folder: `.<name>.lock` beside it. */
function _inFolderLockFile(file: string): string {
  return join(dirname(file), `.${basename(file)}.lock`);
}

/** The releases of the older builds' locks (`_inFolderLockFile`) this process holds, by file. */
const IN_FOLDER = new Map<string, () => Promise<void>>();

async function _writableFolder(folder: string): Promise<boolean> {
  return access(folder, constants.W_OK).then(
    () => true,
    () => false,
  );
}

async function _lock(file: string, lockfilePath: string, onCompromised: (error: Error) => void) {
  try {
    // keyed by the lock file (proper-lockfile keeps one lock a key): a file's two locks, the new and an older build's
    return await lockfile.lock(lockfilePath, {
      realpath: false,
      lockfilePath,
      stale: STALE_MS,
      update: STALE_MS / 2,
      retries: { retries: 1000, factor: 1.2, minTimeout: 5, maxTimeout: 100, randomize: true },
      onCompromised,
    });
  } catch (error) {
    throw new SiteloomError(
      "ERR_LOCKED",
      `${basename(file)} is being changed by another siteloom process; try again (a lock left by a crash clears itself after ${STALE_MS / 1000} s)`,
      { cause: error },
    );
  }
}
