import { execFile } from "node:child_process";
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { copyFile, open, rm, utimes } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { forEachLimit } from "../concurrency.ts";
import { fsyncDir, writeFileAtomic } from "../files.ts";
import { removeAndPrune } from "./files.ts";

/**
 * One run's changes to output/, made crash-safe at the cost of one syncfs instead of one fsync per file:
 *
 * 1. every new or changed file is written (or hard-linked) into a staging folder beside output/, with no fsync;
 * 2. `commit` makes the whole staging folder durable with one `syncfs` (coreutils `sync -f`), then writes a commit
 *    record (fsynced) listing the moves and removals, then renames each staged file over its place in output/,
 *    removes what no longer belongs, and deletes the staging folder.
 *
 * A run killed before the commit record exists leaves output/ as it was (the staging folder is thrown away); one
 * killed after it is finished by `settleOutput`, which every reader of output/ calls first. So output/ is always
 * the old tree or the new one, never a mix of the two. When there is no output/ yet, the synced staging folder is
 * renamed to output/ whole: one rename, no record, no file-by-file moves.
 */
export interface OutputStaging {
  /** Writes a file into the staging folder; returns the size and mtime it will have in output/ (renames keep both). */
  write(path: string, data: Buffer): { size: number; mtimeMs: number };
  /** Stages `src` by hard link; false where links are impossible (then `copy`). */
  link(src: string, path: string): boolean;
  /** Stages a copy of `src` carrying the source's mtime, so "unchanged" can later be decided by stat alone. */
  copy(src: string, path: string, mtimeMs: number): Promise<void>;
  /** Marks an output file for removal at commit. */
  remove(path: string): void;
  /**
   * Makes the staged tree durable and moves it into output/ (see above). `onPhase` hears "synced" (the staged tree
   * is durable), "recorded" (the commit record is: from here the run is finished even if killed) and "moved".
   */
  commit(onPhase?: (phase: "synced" | "recorded" | "moved") => void): Promise<void>;
  /** Throws the staged files away, output/ staying as it was (a no-op once the commit record is written). */
  abort(): Promise<void>;
}

/** What `settleOutput` found: nothing to do, an uncommitted run thrown away, or a committed one finished. */
export type SettleResult = "clean" | "rolled-back" | "rolled-forward";

/** The staging folder of `output` (a hidden sibling, so it is on the same file system and never deployed). */
export function stagingDirFor(output: string): string {
  return join(dirname(output), `.${basename(output)}.staging`);
}

/**
 * Starts staging changes to `output`. Call `settleOutput(output)` first: a staging folder left by an earlier run is
 * settled there, not here.
 */
export function createOutputStaging(output: string): OutputStaging {
  const stage = stagingDirFor(output);
  const dirs = new Set<string>();
  const moves: string[] = [];
  const removes: string[] = [];
  /** Set once the commit record is durable: from then on the run is finished, never thrown away. */
  let committed = false;
  const ensureDir = (file: string): void => {
    const dir = dirname(file);
    if (dirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    dirs.add(dir);
  };
  return {
    write(path, data) {
      const file = join(stage, path);
      ensureDir(file);
      const fd = openSync(file, "w", 0o644);
      try {
        for (let done = 0; done < data.length; ) done += writeSync(fd, data, done);
        const { size, mtimeMs, mode } = fstatSync(fd);
        // The mode, whatever the umask; with the usual umask it already is, and one system call per page is saved.
        if ((mode & 0o777) !== 0o644) fchmodSync(fd, 0o644);
        moves.push(path);
        return { size, mtimeMs };
      } finally {
        closeSync(fd);
      }
    },
    link(src, path) {
      const file = join(stage, path);
      ensureDir(file);
      try {
        linkSync(src, file);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code && LINK_UNSUPPORTED.has(code)) return false;
        throw error;
      }
      moves.push(path);
      return true;
    },
    async copy(src, path, mtimeMs) {
      const file = join(stage, path);
      ensureDir(file);
      await copyFile(src, file, constants.COPYFILE_FICLONE);
      // Seconds as a number keep sub-millisecond precision that a Date would drop.
      await utimes(file, mtimeMs / 1000, mtimeMs / 1000);
      moves.push(path);
    },
    remove(path) {
      removes.push(path);
    },
    async commit(onPhase) {
      if (moves.length === 0 && removes.length === 0) {
        rmSync(stage, { recursive: true, force: true });
        return;
      }
      mkdirSync(stage, { recursive: true });
      await _syncTree(stage, moves, dirs);
      onPhase?.("synced");
      if (removes.length === 0 && !existsSync(output)) {
        // No output/ yet (a first run): the durable staged tree becomes output/ in one rename, so there is no
        // record to write and nothing to move file by file. Killed before it, output/ is still absent (the old
        // tree) and the staging folder, without a record, is thrown away by the next settleOutput.
        renameSync(stage, output);
        committed = true;
        fsyncDir(dirname(output));
        onPhase?.("moved");
        return;
      }
      const record: CommitRecord = { version: 1, moves, removes };
      await writeFileAtomic(join(stage, COMMIT_FILE), JSON.stringify(record));
      committed = true;
      onPhase?.("recorded");
      await _finish(output, stage, record);
      onPhase?.("moved");
    },
    async abort() {
      // A committed run that failed while moving files is finished by the next `settleOutput`, not undone.
      if (!committed) await rm(stage, { recursive: true, force: true });
    },
  };
}

/**
 * Brings output/ to a whole tree after a run that was killed: a committed run is finished (its staged files moved
 * into place, its removals done), an uncommitted one is thrown away. Cheap when there is nothing to do (one stat).
 */
export async function settleOutput(output: string): Promise<SettleResult> {
  const stage = stagingDirFor(output);
  let text: string;
  try {
    text = readFileSync(join(stage, COMMIT_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    try {
      rmSync(stage, { recursive: true });
    } catch (rmError) {
      if ((rmError as NodeJS.ErrnoException).code === "ENOENT") return "clean";
      throw rmError;
    }
    return "rolled-back";
  }
  // writeFileAtomic renamed it into place complete, so it parses; anything else is not ours to guess at.
  await _finish(output, stage, JSON.parse(text) as CommitRecord);
  return "rolled-forward";
}

// --- internal ---

/** The commit record inside the staging folder: present means "the staged tree is durable; move it into place". */
const COMMIT_FILE = ".commit.json";
/** Errors of link(2) that mean "copy instead". */
const LINK_UNSUPPORTED = new Set(["EXDEV", "EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "ENOSYS", "EACCES"]);
/** Files fsynced at once when syncfs is not available. */
const FSYNC_CONCURRENCY = 16;

const execFileAsync = promisify(execFile);

interface CommitRecord {
  version: 1;
  /** Site-relative paths staged in the staging folder, moved over output/ in this order. */
  moves: string[];
  /** Site-relative paths removed from output/ after the moves. */
  removes: string[];
}

/**
 * Makes the staged files and folders durable. One syncfs of the file system (`sync -f`, coreutils >= 8.24) costs one
 * journal commit, where an fsync per file costs one each; without it, every file and folder is fsynced.
 */
async function _syncTree(stage: string, files: string[], dirs: Set<string>): Promise<void> {
  try {
    await execFileAsync("sync", ["-f", stage]);
    return;
  } catch {
    // no coreutils sync, or one without -f: fsync one by one below
  }
  await forEachLimit(files, FSYNC_CONCURRENCY, async (path) => {
    const handle = await open(join(stage, path), "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
  for (const dir of dirs) fsyncDir(dir);
  fsyncDir(stage);
}

/** Moves a committed staging folder into output/ and removes it; safe to run again after a kill at any point. */
async function _finish(output: string, stage: string, record: CommitRecord): Promise<void> {
  const made = new Set<string>();
  for (const path of record.moves) {
    const target = join(output, path);
    const dir = dirname(target);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    try {
      renameSync(join(stage, path), target);
    } catch (error) {
      // Moved before the kill that this run finishes.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  for (const path of record.removes) await removeAndPrune(output, path);
  // The record goes first: a staging folder without one is thrown away, and what is left of it is empty folders.
  rmSync(join(stage, COMMIT_FILE), { force: true });
  rmSync(stage, { recursive: true, force: true });
}
