import { constants, type Dirent, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { copyFile, mkdir, rename, rm, rmdir, utimes } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import pLimit from "p-limit";
import { isTempFileName, tempPathFor, writeFileAtomic } from "../files.ts";

/** A file of a tree: site-relative POSIX path and what `stat` said. */
export interface TreeFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * Every regular file under `root` (symlinks are not followed), sorted by path; a missing root gives [].
 * Synchronous on purpose: tens of thousands of small stats cost far less CPU this way than as promises.
 */
export async function walkTree(root: string): Promise<TreeFile[]> {
  const out: TreeFile[] = [];
  const visit = (dir: string, prefix: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = `${dir}/${entry.name}`; // dir is already normal: path.join's normalising costs ~2 µs a file
      if (entry.isDirectory()) visit(full, rel);
      else if (entry.isFile()) {
        const s = statSync(full, { throwIfNoEntry: false });
        if (s) out.push({ path: rel, size: s.size, mtimeMs: s.mtimeMs });
      }
    }
  };
  visit(root.replace(/\/+$/, ""), "");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Atomic write (src/files.ts) of an output file. No directory fsync: output/ is rebuildable and holds thousands of
 * files.
 */
export async function writeOutputFile(file: string, data: Buffer | string): Promise<void> {
  // One mkdir per folder, not per file: a run writes thousands of files into a few hundred folders.
  const dir = dirname(file);
  if (!MADE_DIRS.has(dir)) {
    await mkdir(dir, { recursive: true });
    if (MADE_DIRS.size > 10_000) MADE_DIRS.clear();
    MADE_DIRS.add(dir);
  }
  try {
    await writeFileAtomic(file, data, { syncDir: false, mkdir: false });
  } catch (error) {
    // The folder went away since (a removed article's folder): once more, creating it.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    MADE_DIRS.delete(dir);
    await writeFileAtomic(file, data, { syncDir: false });
  }
}

/** Folders writeOutputFile made or found this process. */
const MADE_DIRS = new Set<string>();

/** Whether a site-relative path is, or lies in, a temporary file an interrupted write left (src/files.ts's rule). */
export function isTempPath(path: string): boolean {
  return path.includes(".tmp-") && path.split("/").some(isTempFileName);
}

/** Copies a file atomically and gives the copy the source's mtime, so "unchanged" can be decided by stat alone. */
export async function copyFileAtomic(src: string, dest: string, mtimeMs: number): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempPathFor(dest);
  try {
    await copyFile(src, tmp, constants.COPYFILE_FICLONE);
    // Seconds as a number keep sub-millisecond precision that a Date would drop.
    await utimes(tmp, mtimeMs / 1000, mtimeMs / 1000);
    await rename(tmp, dest);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Puts a copy of `src` at `dest` as a hard link: no bytes are copied and the copy has the source's size and mtime by
 * construction. Safe because nothing edits these files in place: export/ and output/ are both replaced by rename.
 * Returns false where links are impossible (another file system, no link support): copy with `copyFileAtomic` then.
 * Synchronous on purpose: a link is one cheap system call, far cheaper than a round trip through the thread pool.
 * `dirs` remembers folders already created during a run.
 */
export function linkCopy(src: string, dest: string, options: { exists: boolean; dirs: Set<string> }): boolean {
  const dir = dirname(dest);
  if (!options.dirs.has(dir)) {
    mkdirSync(dir, { recursive: true });
    options.dirs.add(dir);
  }
  // A new name is linked in place (a link never leaves a partial file); an existing one is replaced by rename.
  const target = options.exists ? tempPathFor(dest) : dest;
  try {
    linkSync(src, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && !options.exists) return linkCopy(src, dest, { ...options, exists: true });
    if (code && LINK_UNSUPPORTED.has(code)) return false;
    throw error;
  }
  if (target === dest) return true;
  try {
    renameSync(target, dest);
  } catch (error) {
    rmSync(target, { force: true });
    throw error;
  }
  return true;
}

/** Runs `fn` over `items` with at most `limit` at a time (file work is latency-bound, not CPU-bound). */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const run = pLimit(limit);
  await Promise.all(items.map((item) => run(() => fn(item))));
}

/** Removes a file and then its folders up to (not including) `root` while they are empty. */
export async function removeAndPrune(root: string, rel: string): Promise<void> {
  await rm(join(root, rel), { force: true });
  let dir = dirname(join(root, rel));
  while (dir.length > root.length && dir.startsWith(root + sep)) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
    dir = dirname(dir);
  }
}

// --- internal ---

/** Errors of link(2) that mean "copy instead". */
const LINK_UNSUPPORTED = new Set(["EXDEV", "EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "ENOSYS", "EACCES"]);
