import pLimit from "p-limit";
import { SiteloomError } from "../errors.ts";
import type { RemoteEntry, RemotePool } from "./types.ts";

/** A remote entry with its path relative to the remote root. */
export interface RemoteItem extends RemoteEntry {
  path: string;
}

/** Bounds on a remote tree, so a hostile or broken server cannot make a walk endless or its result unbounded. */
export interface WalkLimits {
  /** Folder levels below the start directory; deeper folders are not listed. */
  maxDepth: number;
  /** Longest path (UTF-8 bytes, relative to the start directory); longer entries are left out. */
  maxPathLength: number;
  /** Entries in one folder; a larger listing is left out whole. */
  maxEntriesPerDir: number;
  /** Entries in the whole tree; the walk stops there. */
  maxEntries: number;
}

/** Where a walk stopped short of a limit. */
export interface WalkLimitHit {
  /** The folder or entry concerned, relative to the remote root. */
  path: string;
  limit: keyof WalkLimits;
  message: string;
}

export interface WalkRemoteOptions {
  /** Directory to start from ("" is the root). @default "" */
  dir?: string;
  /** Directories not descended into (their entry is still returned). */
  skipDir?: (path: string) => boolean;
  /** Called for every directory listed (progress). */
  onDir?: (path: string) => void;
  /** Bounds; each one missing is unbounded. */
  limits?: Partial<WalkLimits>;
}

export interface RemoteTree {
  /** Files and symlinks by path. */
  files: Map<string, RemoteItem>;
  /** Directories by path (not the start directory itself). */
  dirs: Map<string, RemoteItem>;
  /** Limits the walk ran into: the tree is incomplete below these paths (the whole tree for maxEntries). */
  limited: WalkLimitHit[];
}

/**
 * Lists a remote tree, several directories at once (one per pool connection; the folders one listing found in one
 * batch per connection where the connection lists several at once), within `limits`.
 */
export async function walkRemote(pool: RemotePool, options: WalkRemoteOptions = {}): Promise<RemoteTree> {
  const limits = { ..._UNBOUNDED, ...options.limits };
  const start = options.dir ?? "";
  const files = new Map<string, RemoteItem>();
  const dirs = new Map<string, RemoteItem>();
  const limited: WalkLimitHit[] = [];
  // one listing per pool connection at a time, in the order the folders were found (breadth first)
  const limit = pLimit(Math.max(1, pool.size));
  const running = new Set<Promise<void>>();
  let entries = 0;
  let stopped = false;
  let failure: unknown;
  const hit = (path: string, limit: keyof WalkLimits, message: string) => {
    limited.push({ path, limit, message });
  };
  const accept = (dir: string, depth: number, listing: RemoteEntry[]) => {
    const children: string[] = [];
    if (listing.length > limits.maxEntriesPerDir) {
      hit(
        dir,
        "maxEntriesPerDir",
        `lists ${listing.length} entries, more than maxEntriesPerDir (${limits.maxEntriesPerDir})`,
      );
      return;
    }
    for (const entry of listing) {
      if (entries >= limits.maxEntries) {
        // A tree this large is not mirrored at all: the rest would be a guess.
        hit(start, "maxEntries", `more than maxEntries (${limits.maxEntries}) entries: listing stopped`);
        stopped = true;
        return;
      }
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      const rel = start === "" ? path : path.slice(start.length + 1);
      if (Buffer.byteLength(rel) > limits.maxPathLength) {
        hit(path, "maxPathLength", `path longer than maxPathLength (${limits.maxPathLength} bytes)`);
        continue;
      }
      entries++;
      const item: RemoteItem = { ...entry, path };
      if (entry.type !== "dir") {
        files.set(path, item);
        continue;
      }
      dirs.set(path, item);
      if (options.skipDir?.(path)) continue;
      if (depth + 1 >= limits.maxDepth)
        hit(path, "maxDepth", `deeper than maxDepth (${limits.maxDepth} levels): not listed`);
      else children.push(path);
    }
    schedule(children, depth + 1);
  };
  // whether connections list several folders at once (FTP without MLSD); known after the first listing
  let many: boolean | undefined;
  // the folders found by one listing: in one batch per connection where that saves round trips
  const schedule = (paths: string[], depth: number): void => {
    if (!many || paths.length < 2) {
      for (const path of paths) list([path], depth);
      return;
    }
    const per = Math.min(_BATCH_MAX, Math.ceil(paths.length / Math.max(1, pool.size)));
    for (let i = 0; i < paths.length; i += per) list(paths.slice(i, i + per), depth);
  };
  // after a failure or the maxEntries stop, the folders still waiting are not listed
  const list = (batch: string[], depth: number): void => {
    const task = limit(async () => {
      if (failure !== undefined || stopped) return;
      let results: PromiseSettledResult<RemoteEntry[]>[] | undefined;
      try {
        results = await pool.run(async (fs): Promise<PromiseSettledResult<RemoteEntry[]>[] | undefined> => {
          many ??= fs.listMany !== undefined;
          if (batch.length > 1 && fs.listMany) return fs.listMany(batch);
          return [{ status: "fulfilled", value: await fs.list(batch[0] ?? "") }];
        });
      } catch (error) {
        // a batch beyond the listing limit as a whole: its folders are listed one by one, each within the limit
        if (batch.length > 1 && error instanceof SiteloomError && error.code === "ERR_TRANSFER_LIMIT") {
          for (const dir of batch) list([dir], depth);
        } else failure ??= error;
        return;
      }
      if (results === undefined) {
        // the connection lists one folder at a time after all: so does the rest of the walk
        many = false;
        for (const dir of batch) list([dir], depth);
        return;
      }
      for (const [i, dir] of batch.entries()) {
        const result = results[i];
        if (result?.status !== "fulfilled") {
          failure ??= result?.reason ?? new Error(`no listing of ${dir}`);
          return;
        }
        options.onDir?.(dir);
        if (!stopped) accept(dir, depth, result.value);
      }
    }).finally(() => running.delete(task));
    running.add(task);
  };
  list([start], 0);
  while (running.size > 0) await Promise.all(running);
  if (failure !== undefined) throw failure;
  return { files, dirs, limited };
}

// --- internal ---

/** Folders asked for in one batch at most. */
const _BATCH_MAX = 16;

const _UNBOUNDED: WalkLimits = {
  maxDepth: Number.POSITIVE_INFINITY,
  maxPathLength: Number.POSITIVE_INFINITY,
  maxEntriesPerDir: Number.POSITIVE_INFINITY,
  maxEntries: Number.POSITIVE_INFINITY,
};
