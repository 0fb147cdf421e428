import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { chmod, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isProcessAlive } from "./processes.ts";

export interface WriteFileAtomicOptions {
  /** Mode of the new file (applied even under a restrictive umask). @default 0o644 */
  mode?: number;
  /** Create the parent directory first. @default true */
  mkdir?: boolean;
  /**
   * fsync the directory after the rename, so the rename survives a power cut. Writers of thousands of rebuildable
   * files (enrich output) turn it off: the file itself is still complete and atomic. @default true
   */
  syncDir?: boolean;
  /**
   * Runs once the new content is on disk, right before the rename: throwing aborts the write (the temporary file is
   * removed, the target is untouched). The secret store checks here that its lock and the file are still as read.
   */
  beforeRename?: () => Promise<void>;
}

/**
 * Writes a file so that a crash at any moment leaves either the old or the new content, never a mix: a temporary
 * file in the same directory, fsync, rename over the target, then fsync of the directory so the rename itself is
 * durable. The one implementation every part of siteloom uses.
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = dirname(file);
  const mode = options.mode ?? 0o644;
  if (options.mkdir !== false) await mkdir(dir, { recursive: true });
  const tmp = tempPathFor(file);
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await chmod(tmp, mode);
    await options.beforeRename?.();
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  if (options.syncDir !== false) fsyncDir(dir);
}

export interface RemoveStaleTempFilesOptions {
  /** A temp file whose writer is still alive is removed only after this long. @default 3600000 (1 hour) */
  olderThanMs?: number;
  /** Clock. @default Date.now() */
  now?: number;
}

/**
 * Removes the temporary files `writeFileAtomic` left in `dir` when its process was killed between write and rename
 * (`.<name>.tmp-<pid>-<hex>`): at once when that pid is gone, else once older than `olderThanMs` (a reused pid, or a
 * writer on another host of a shared folder). Returns the names removed. The one cleanup for the one naming rule.
 */
export async function removeStaleTempFiles(dir: string, options: RemoveStaleTempFilesOptions = {}): Promise<string[]> {
  const now = options.now ?? Date.now();
  const olderThanMs = options.olderThanMs ?? 3_600_000;
  const removed: string[] = [];
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const match = TEMP_NAME.exec(name);
    if (!match) continue;
    const file = join(dir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) continue;
    if (isProcessAlive(Number(match[1])) && now - info.mtimeMs < olderThanMs) continue;
    await rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}

/** `writeFileAtomic` for the few writers that must stay synchronous (the audit log's head record). */
export function writeFileAtomicSync(
  file: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): void {
  const dir = dirname(file);
  const mode = options.mode ?? 0o644;
  if (options.mkdir !== false) mkdirSync(dir, { recursive: true });
  const tmp = tempPathFor(file);
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
    closeSync(fd);
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  if (options.syncDir !== false) fsyncDir(dir);
}

/**
 * Atomic, durable write of a private file (secret store, identity, backups, deploy state): mode 0600, its folder
 * created 0700 when missing.
 */
export async function writePrivateFile(
  file: string,
  data: Uint8Array | string,
  options: Pick<WriteFileAtomicOptions, "beforeRename"> = {},
): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, data, { mode: 0o600, mkdir: false, ...options });
}

/**
 * The one temp-file naming rule of atomic writes: `.<name>.tmp-<pid>-<random>` in the target's folder (hidden, and
 * recognised by `removeStaleTempFiles`, which removes what a killed writer left).
 */
export function tempPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}${TEMP_MARK}${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Whether `name` (a file name, no folder) is a temporary file of `tempPathFor`'s rule. */
export function isTempFileName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** Makes renames in `dir` durable; a no-op where directories cannot be opened for fsync. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on directories; the rename is still atomic there
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// --- internal ---

/** What marks a temporary file: `.<name>` + TEMP_MARK + `<pid>-<hex>`. */
const TEMP_MARK = ".tmp-";
const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]+$/;
