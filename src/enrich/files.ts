import { type Dirent, readdirSync, statSync } from "node:fs";
import { rm, rmdir } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { isTempFileName } from "../files.ts";

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

/** Whether a site-relative path is, or lies in, a temporary file an interrupted write left (src/files.ts's rule). */
export function isTempPath(path: string): boolean {
  return path.includes(".tmp-") && path.split("/").some(isTempFileName);
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
