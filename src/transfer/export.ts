import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, rename, rm, rmdir, stat, unlink, utimes } from "node:fs/promises";
import { join } from "node:path";
import pLimit from "p-limit";
import type { SiteConfig } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { printable } from "../printable.ts";
import { runWithRetry } from "../retry.ts";
import { createMatcher, isTempName } from "./deploy/plan.ts";
import { explainListingFailure } from "./missing-root.ts";
import { localNameProblem, printablePath } from "./paths.ts";
import type { RemotePool } from "./types.ts";
import { type RemoteItem, walkRemote } from "./walk.ts";

export interface ExportOptions {
  /** Site name, for messages. */
  site: string;
  /** The local mirror (sites/<name>/export); nothing is ever written outside it. */
  exportDir: string;
  /** Connections to the host. The caller closes it. */
  pool: RemotePool;
  /** The site's `export` configuration section (exclude patterns, max file size). */
  config: SiteConfig["export"];
  /** Remote folder to mirror, relative to remote.root. @default "" (the root) */
  remoteDir?: string;
  /** Plan only: nothing is downloaded or deleted. */
  dryRun?: boolean;
  /** Tries per file after the first. @default 3 */
  retries?: number;
  /** First backoff delay. @default 250 */
  retryBaseMs?: number;
  /** Longest backoff delay. @default 10000 */
  retryMaxMs?: number;
  /** Progress events. */
  onProgress?: (event: ExportProgress) => void;
}

export interface ExportProgress {
  phase: "listing" | "download" | "delete";
  done: number;
  total: number;
  bytes: number;
  totalBytes: number;
  path?: string;
  outcome?: "downloaded" | "failed" | "deleted" | "retry";
}

export interface ExportResult {
  site: string;
  dryRun: boolean;
  /** Files downloaded (or that would be, with dryRun). */
  downloaded: string[];
  /** Local files removed because they are gone from the server (directories end with "/"). */
  deleted: string[];
  /** Remote entries not mirrored, with the reason (excluded, too large, symlink, unsafe name). */
  skipped: { path: string; reason: string }[];
  failures: { path: string; message: string }[];
  stats: {
    files: number;
    unchanged: number;
    downloaded: number;
    deleted: number;
    skipped: number;
    failed: number;
    dirsCreated: number;
    bytes: number;
    durationMs: number;
    throughput: number;
    retries: number;
    connections: number;
  };
}

/** Temp files of downloads in progress: `.in.<name>.<random>`, renamed into place when complete. */
const LOCAL_TEMP = /^\.in\..+\.[0-9a-f]{8}$/;

/**
 * Mirrors the remote root into export/: incremental by size and modification time, deletions mirrored, mtimes set
 * from the server, every download renamed into place from a temp file.
 */
export async function runExport(options: ExportOptions): Promise<ExportResult> {
  const started = performance.now();
  const { pool, site } = options;
  const root = options.exportDir;
  const retries = options.retries ?? 3;
  const progress = options.onProgress ?? (() => {});
  const excluded = createMatcher(options.config.exclude);
  const result: ExportResult = {
    site,
    dryRun: options.dryRun === true,
    downloaded: [],
    deleted: [],
    skipped: [],
    failures: [],
    stats: {
      files: 0,
      unchanged: 0,
      downloaded: 0,
      deleted: 0,
      skipped: 0,
      failed: 0,
      dirsCreated: 0,
      bytes: 0,
      durationMs: 0,
      throughput: 0,
      retries: 0,
      connections: 0,
    },
  };

  const rootStat = await lstat(root).catch(() => undefined);
  if (rootStat?.isSymbolicLink()) {
    throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `${root} is a symlink: refusing to export into it`, { site });
  }
  if (!options.dryRun) await mkdir(root, { recursive: true });

  // 1. the server's tree (excluded directories are not even listed); the other logins go on while the root is listed
  pool.prewarm(pool.size);
  let listed = 0;
  const limits = options.config;
  const remote = await walkRemote(pool, {
    dir: options.remoteDir ?? "",
    skipDir: (p) => excluded(_rel(options.remoteDir, p), true),
    onDir: () => progress({ phase: "listing", done: ++listed, total: 0, bytes: 0, totalBytes: 0 }),
    limits,
  }).catch((error: unknown) => explainListingFailure(pool, error, site));
  // A tree cut short by a limit is a failure (what is beyond it is unknown), and no local file is removed then.
  for (const hit of remote.limited) {
    result.failures.push({
      path: _rel(options.remoteDir, hit.path) || "/",
      message: `${hit.message.replace(hit.limit, `export.${hit.limit}`)}; raise export.${hit.limit} if the site really is like this`,
    });
    result.stats.failed++;
  }
  const wanted = new Map<string, RemoteItem>();
  const wantedDirs = new Set<string>();
  for (const full of remote.dirs.keys()) {
    const path = _rel(options.remoteDir, full);
    if (excluded(path, true) || _underExcluded(path, excluded))
      result.skipped.push({ path: `${path}/`, reason: "excluded" });
    else if (_unsafe(path)) result.skipped.push({ path, reason: "unsafe name" });
    else if (localNameProblem(path) !== undefined) result.skipped.push({ path, reason: localNameProblem(path)! });
    else wantedDirs.add(path);
  }
  for (const [full, item] of remote.files) {
    const path = _rel(options.remoteDir, full);
    if (_underExcluded(path, excluded)) continue;
    if (excluded(path)) result.skipped.push({ path, reason: "excluded" });
    else if (_unsafe(path)) result.skipped.push({ path, reason: "unsafe name" });
    else if (localNameProblem(path) !== undefined) result.skipped.push({ path, reason: localNameProblem(path)! });
    else if (isTempName(path)) {
      // a deploy's upload cut short (`.in.<name>.<run>`): not part of the site; the next deploy resumes or removes it
      result.skipped.push({ path, reason: "unfinished upload of an interrupted deploy" });
    } else if (item.type === "symlink") {
      result.skipped.push({ path, reason: `symlink${item.target ? ` to ${printablePath(item.target)}` : ""}` });
    } else if (item.size > options.config.maxFileSize) {
      result.skipped.push({ path, reason: `larger than export.maxFileSize (${item.size} bytes)` });
    } else wanted.set(path, { ...item, path: full });
  }
  result.stats.files = wanted.size;
  result.stats.skipped = result.skipped.length;

  // 2. what is here already
  const local = await _scanLocal(root, options.dryRun === true);
  const downloads: { path: string; item: RemoteItem }[] = [];
  for (const [path, item] of wanted) {
    const have = local.files.get(path);
    const same =
      have !== undefined &&
      have.size === item.size &&
      (item.mtime === undefined || Math.floor(have.mtime / 1000) === Math.floor(item.mtime / 1000));
    if (same) result.stats.unchanged++;
    else downloads.push({ path, item });
  }
  const skippedPaths = new Set(result.skipped.map((s) => s.path));
  const keepLocal = (path: string) =>
    wanted.has(path) || skippedPaths.has(path) || excluded(path) || _underExcluded(path, excluded);
  const complete = remote.limited.length === 0;
  const deletes = complete ? [...local.files.keys()].filter((p) => !keepLocal(p) && !wantedDirs.has(p)) : [];
  const deleteDirs = [...(complete ? local.dirs : [])]
    .filter((d) => !wantedDirs.has(d) && !excluded(d, true) && !_underExcluded(d, excluded))
    .sort((a, b) => b.split("/").length - a.split("/").length);
  result.downloaded = downloads.map((d) => d.path);
  result.deleted = [...deletes, ...deleteDirs.map((d) => `${d}/`)];
  const planned = downloads.reduce((n, d) => n + d.item.size, 0);
  if (planned > options.config.maxTotalBytes) {
    throw new SiteloomError(
      "ERR_TRANSFER_LIMIT",
      `export of ${site}: the server lists ${planned} bytes to download, more than export.maxTotalBytes (${options.config.maxTotalBytes}); nothing was downloaded — raise export.maxTotalBytes or exclude folders with export.exclude`,
      { site },
    );
  }
  if (options.dryRun) return _finish(result, started, pool);

  // 3. directories, then downloads (temp file → size check → mtime → rename)
  const needDirs = new Set<string>(wantedDirs);
  for (const { path } of downloads) {
    const slash = path.lastIndexOf("/");
    if (slash > 0) needDirs.add(path.slice(0, slash));
  }
  for (const dir of [...needDirs].sort((a, b) => a.split("/").length - b.split("/").length)) {
    if (local.dirs.has(dir)) continue;
    await _ensureDir(root, dir);
    result.stats.dirsCreated++;
  }
  const totalBytes = planned;
  // bytes a download may still take: files that turn out larger on a retry draw on what the plan left over
  const budget = { left: options.config.maxTotalBytes - planned };
  const downloadStart = performance.now();
  let done = 0;
  // twice as many files in hand as connections: a file's local work (size check, mtime, rename) and the next one's
  // checks overlap the transfers, so a connection goes from one RETR to the next without waiting for the disk
  const run = pLimit(Math.max(1, pool.size) * 2);
  const one = async ({ path, item }: (typeof downloads)[number]) => {
    const message = await _download(options, root, path, item, retries, budget, () => {
      result.stats.retries++;
      progress({
        phase: "download",
        done,
        total: downloads.length,
        bytes: result.stats.bytes,
        totalBytes,
        path,
        outcome: "retry",
      });
    });
    if (typeof message === "number") {
      result.stats.downloaded++;
      result.stats.bytes += message;
    } else {
      result.failures.push({ path, message });
      result.stats.failed++;
    }
    progress({
      phase: "download",
      done: ++done,
      total: downloads.length,
      bytes: result.stats.bytes,
      totalBytes,
      path,
      outcome: typeof message === "number" ? "downloaded" : "failed",
    });
  };
  await Promise.all(downloads.map((download) => run(() => one(download))));
  const ms = performance.now() - downloadStart;
  result.stats.throughput = ms > 0 ? Math.round((result.stats.bytes * 1000) / ms) : 0;

  // 4. mirror deletions (files, then directories that are left empty)
  let deleted = 0;
  for (const path of deletes) {
    await _removeEntry(join(root, ...path.split("/")));
    result.stats.deleted++;
    progress({
      phase: "delete",
      done: ++deleted,
      total: result.deleted.length,
      bytes: 0,
      totalBytes: 0,
      path,
      outcome: "deleted",
    });
  }
  for (const dir of deleteDirs) {
    const removed = await rmdir(join(root, ...dir.split("/"))).then(
      () => true,
      () => false,
    );
    if (removed) result.stats.deleted++;
  }
  return _finish(result, started, pool);
}

// --- internal ---

/**
 * One file: into a temp file, capped at the size announced (the listing's, or a fresh stat's on a retry) and at
 * export.maxFileSize while it streams; a size that still does not match after the retries is a failure and nothing is
 * kept. Returns the bytes written, or the failure's message.
 */
async function _download(
  options: ExportOptions,
  root: string,
  path: string,
  listed: RemoteItem,
  retries: number,
  budget: { left: number },
  onRetry: () => void,
): Promise<number | string> {
  const segments = path.split("/");
  const final = join(root, ...segments);
  const tmp = join(root, ...segments.slice(0, -1), `.in.${segments.at(-1)}.${randomBytes(4).toString("hex")}`);
  let item = listed;
  // the message of a failure after which the server's size is asked again (the file may have changed since listed)
  let restat: string | undefined;
  const attempt = async (): Promise<number> => {
    if (restat !== undefined) item = await _restat(options, item, budget, restat);
    let wrongSize = false;
    try {
      await _refuseSymlinkedParents(root, path);
      await options.pool.run((fs) => fs.download(item.path, tmp, { maxBytes: item.size }));
      const st = await stat(tmp);
      if (st.size !== item.size) {
        wrongSize = true;
        throw new SiteloomError(
          "ERR_TRANSFER_IO",
          `got ${st.size} bytes, the server announced ${item.size} (changing on the server?)`,
        );
      }
      if (item.mtime !== undefined) {
        const when = new Date(item.mtime);
        await utimes(tmp, when, when);
      }
      const existing = await lstat(final).catch(() => undefined);
      if (existing?.isDirectory() || existing?.isSymbolicLink()) await _removeEntry(final);
      await rename(tmp, final);
      return st.size;
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => {});
      const limit = error instanceof SiteloomError && error.code === "ERR_TRANSFER_LIMIT";
      restat = wrongSize || limit ? _message(error) : undefined;
      throw error;
    }
  };
  return runWithRetry(attempt, {
    retries,
    baseMs: options.retryBaseMs ?? 250,
    maxMs: options.retryMaxMs ?? 10_000,
    classify: (error) => ({
      retry:
        !(error instanceof _GaveUp) && !(error instanceof SiteloomError && error.code === "ERR_TRANSFER_UNSAFE_PATH"),
    }),
    onRetry,
  }).catch((error: unknown) => _message(error));
}

/** A failure that ends a download's retries (the file is gone or grew beyond the limits). */
class _GaveUp extends Error {}

/** The server's size now, within the limits; else a `_GaveUp` naming the failure that led here. */
async function _restat(
  options: ExportOptions,
  item: RemoteItem,
  budget: { left: number },
  message: string,
): Promise<RemoteItem> {
  const now = await options.pool.run((fs) => fs.stat(item.path)).catch(() => undefined);
  if (now === undefined || now.type !== "file")
    throw new _GaveUp(`${message}; gone from the server since it was listed`);
  if (now.size > options.config.maxFileSize) {
    throw new _GaveUp(
      `${message}; the server now states ${now.size} bytes, more than export.maxFileSize (${options.config.maxFileSize})`,
    );
  }
  const grows = Math.max(0, now.size - item.size);
  if (grows > budget.left) {
    throw new _GaveUp(
      `${message}; the server now states ${now.size} bytes, beyond export.maxTotalBytes (${options.config.maxTotalBytes})`,
    );
  }
  budget.left -= grows;
  return { ...item, size: now.size, mtime: now.mtime ?? item.mtime };
}

function _message(error: unknown): string {
  return printable(error instanceof Error ? error.message : String(error));
}

/** Local files and directories of the mirror (not following symlinks); leftover temp files are removed. */
async function _scanLocal(
  root: string,
  dryRun: boolean,
): Promise<{ files: Map<string, { size: number; mtime: number }>; dirs: Set<string> }> {
  const files = new Map<string, { size: number; mtime: number }>();
  const dirs = new Set<string>();
  const walk = async (rel: string) => {
    const names = await readdir(rel === "" ? root : join(root, rel)).catch(() => [] as string[]);
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = join(root, path);
      const st = await lstat(full);
      if (LOCAL_TEMP.test(name) && st.isFile()) {
        if (!dryRun) await rm(full, { force: true });
      } else if (st.isDirectory()) {
        dirs.add(path);
        await walk(path);
      } else {
        // a symlink counts as a file that must be replaced; it is never followed
        files.set(path, { size: st.isFile() ? st.size : -1, mtime: Math.floor(st.mtimeMs) });
      }
    }
  };
  await walk("");
  return { files, dirs };
}

async function _ensureDir(root: string, dir: string): Promise<void> {
  let current = root;
  for (const segment of dir.split("/")) {
    current = join(current, segment);
    const st = await lstat(current).catch(() => undefined);
    if (st?.isDirectory()) continue;
    if (st !== undefined) await _removeEntry(current); // a file or symlink where the server has a directory
    await mkdir(current);
  }
}

async function _refuseSymlinkedParents(root: string, path: string): Promise<void> {
  const segments = path.split("/");
  let current = root;
  for (const segment of segments.slice(0, -1)) {
    current = join(current, segment);
    const st = await lstat(current);
    if (!st.isDirectory()) {
      throw new SiteloomError(
        "ERR_TRANSFER_UNSAFE_PATH",
        `refusing to write ${path}: ${current} is not a plain directory`,
      );
    }
  }
}

/** Removes a file, a symlink (never its target) or a directory tree. */
async function _removeEntry(full: string): Promise<void> {
  const st = await lstat(full).catch(() => undefined);
  if (st === undefined) return;
  if (st.isDirectory()) await rm(full, { recursive: true, force: true });
  else await unlink(full);
}

function _unsafe(path: string): boolean {
  return path
    .split("/")
    .some((s) => s === "" || s === "." || s === ".." || s.includes("\\") || /[\u0000-\u001f\u007f]/.test(s));
}

function _underExcluded(path: string, excluded: (p: string, isDir?: boolean) => boolean): boolean {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) if (excluded(parts.slice(0, i).join("/"), true)) return true;
  return false;
}

function _rel(base: string | undefined, full: string): string {
  if (base === undefined || base === "") return full;
  return full.startsWith(`${base}/`) ? full.slice(base.length + 1) : full;
}

function _finish(result: ExportResult, started: number, pool: RemotePool): ExportResult {
  result.stats.durationMs = Math.round(performance.now() - started);
  result.stats.connections = pool.connectionsOpened;
  return result;
}
