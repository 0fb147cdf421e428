import { createHash } from "node:crypto";
import { createReadStream, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pLimit from "p-limit";

/** One file of a local tree, keyed by its POSIX path relative to the tree root. */
export interface LocalFile {
  path: string;
  size: number;
  /** Modification time, ms since epoch (integer). */
  mtime: number;
  /** sha256, hex. */
  hash: string;
}

export interface LocalTree {
  files: Map<string, LocalFile>;
  /** Every directory (relative POSIX paths, parents before children), including empty ones. */
  dirs: string[];
  /** Symlinks and special files that were left out, for the report. */
  skipped: string[];
}

export interface ScanTreeOptions {
  /** Known hashes by path; reused when size and mtime are unchanged, so an unchanged tree is not read again. */
  cache?: Map<string, { size: number; mtime: number; hash: string }>;
  /** Paths (relative, POSIX) to leave out, e.g. temp files. */
  skip?: (path: string, isDir: boolean) => boolean;
  /** Files hashed at once. @default 8 */
  concurrency?: number;
}

/** sha256 of a file's content, hex. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Walks `root` (not following symlinks) and hashes every regular file. */
export async function scanTree(root: string, options: ScanTreeOptions = {}): Promise<LocalTree> {
  const files = new Map<string, LocalFile>();
  const dirs: string[] = [];
  const skipped: string[] = [];
  const pending: { path: string; full: string; size: number; mtime: number }[] = [];
  // Synchronous stats: one lstat per file through the thread pool costs ~10× more than a direct call, and a
  // no-op deploy spends most of its local time here. The walk still yields every few milliseconds, so that replies on
  // connections being opened meanwhile (the deploy's login and manifest stat) are answered while it runs.
  let slice = performance.now();
  async function walk(rel: string): Promise<void> {
    if (performance.now() - slice > _SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
    const names = readdirSync(rel === "" ? root : join(root, rel)).sort();
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = join(root, path);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        if (options.skip?.(path, true)) continue;
        dirs.push(path);
        await walk(path);
      } else if (st.isFile()) {
        if (options.skip?.(path, false)) continue;
        pending.push({ path, full, size: st.size, mtime: Math.floor(st.mtimeMs) });
      } else {
        skipped.push(path);
      }
    }
  }
  await walk("");
  // Small files (most of a site) are read and hashed in one synchronous call each: a read stream per file costs an
  // open, reads and a close through the thread pool plus a buffer of its full high-water mark (1 MiB) for a few
  // kilobytes, which made garbage collection a large part of a first deploy's CPU. Large files stream, 8 at a time.
  const run = pLimit(options.concurrency ?? 8);
  const streamed: Promise<unknown>[] = [];
  for (const item of pending) {
    const cached = options.cache?.get(item.path);
    const entry = { path: item.path, size: item.size, mtime: item.mtime };
    if (cached !== undefined && cached.size === item.size && cached.mtime === item.mtime) {
      files.set(item.path, { ...entry, hash: cached.hash });
    } else if (item.size <= _INLINE_HASH_MAX_BYTES) {
      if (performance.now() - slice > _SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      files.set(item.path, { ...entry, hash: createHash("sha256").update(readFileSync(item.full)).digest("hex") });
    } else {
      streamed.push(run(() => hashFile(item.full)).then((hash) => files.set(item.path, { ...entry, hash })));
    }
  }
  await Promise.all(streamed);
  // stable order for manifests and plans
  const sorted = new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { files: sorted, dirs, skipped };
}

// --- internal ---

/** Longest stretch of synchronous walking between two turns of the event loop. */
const _SLICE_MS = 4;

/** Files up to this size are read whole to be hashed (one synchronous read) instead of streamed. */
const _INLINE_HASH_MAX_BYTES = 256 * 1024;
