import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync } from "node:fs";
import { chmod, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface WriteFileAtomicOptions {
  /** Mode of the new file (applied even under a restrictive umask). @default 0o644 */
  mode?: number;
  /** Create the parent directory first. @default true */
  mkdir?: boolean;
  /** Prefix of the temporary file's name in the same directory. @default ".<name>.tmp-" */
  tempPrefix?: string;
  /**
   * fsync the directory after the rename, so the rename survives a power cut. Writers of thousands of rebuildable
   * files (enrich output) turn it off: the file itself is still complete and atomic. @default true
   */
  syncDir?: boolean;
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
  const prefix = options.tempPrefix ?? `.${basename(file)}.tmp-`;
  const tmp = join(dir, `${prefix}${process.pid}-${randomBytes(4).toString("hex")}`);
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
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  if (options.syncDir !== false) fsyncDir(dir);
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
