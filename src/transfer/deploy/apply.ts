// Carries out a deploy plan (plan.ts `planDeploy`): directories, then the uploads phase by phase (each file to a temp
// name, checked, renamed into place; the previous version moved aside into the run's backup folder), deletions, and
// the new manifest. Journalled: a killed run is resumed by the next one.
import { randomBytes, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { forEachLimit } from "../../concurrency.ts";
import { SiteloomError } from "../../errors.ts";
import { currentActor, publishActivity, publishEvent } from "../../events.ts";
import { runWithRetry } from "../../retry.ts";
import { redact } from "../../secret.ts";
import { hashFile, type LocalFile } from "../hash.ts";
import { isConnectionError, isMissingError } from "../pool.ts";
import type { RemoteFS, RemotePool } from "../types.ts";
import { dropBackup } from "./backups.ts";
import type { Journal, JournalState } from "./journal.ts";
import {
  BACKUPS_DIR,
  createManifest,
  type DeployBackup,
  isBackupDir,
  type Manifest,
  type ManifestEntry,
} from "./manifest.ts";
import {
  byDepth,
  compareNames,
  type DeployListing,
  type DeployLocalTree,
  type DeployPlan,
  isTempName,
  PHASES,
  type Phase,
  parentsOf,
  tempNameFor,
} from "./plan.ts";
import { replyLine, storeManifest } from "./remote-manifest.ts";
import type { DeployOptions, DeployProgress, DeployResult } from "./run.ts";
import type { DeployState } from "./state.ts";

/** What `applyDeploy` works with besides the plan: the run's options and what planning found. */
export interface ApplyDeployContext {
  options: DeployOptions;
  state: DeployState;
  /** The result being filled in (its `plan`, notes and stats as planned). */
  result: DeployResult;
  /** The local tree the plan was made from. */
  local: DeployLocalTree;
  /** The server's manifest the plan started from (none: first deploy, or not trusted). */
  base: Manifest | undefined;
  /** The listing the plan was made from (listing mode). */
  listed: DeployListing["remote"] | undefined;
  journal: JournalState | undefined;
  manifestDir: string;
  /** No manifest on the server yet: its folder is created, with a deny-all .htaccess. */
  remoteMissing: boolean;
  progress: (event: DeployProgress) => void;
  random: () => number;
  /** performance.now() at the start of the run. */
  started: number;
}

/** Executes `plan` on the server and writes the new manifest; returns the filled-in result. */
export async function applyDeploy(plan: DeployPlan, run: ApplyDeployContext): Promise<DeployResult> {
  const { options, state, result, base, listed, journal, manifestDir, remoteMissing, progress, random, started } = run;
  const { pool, config, site, env } = options;
  const { uploads, mkdirs, deletes, deleteDirs, tempsToRemove, baseFiles } = plan;
  // a directory deleted now is no longer in the new manifest
  const baseDirs = new Set(plan.baseDirs);
  const tree = run.local;
  const localDirs = tree.dirs;
  const runId = journal?.header.runId ?? randomBytes(4).toString("hex");
  // the versions this run replaces or deletes are moved aside into one backup folder per run (a rerun reuses it)
  const keepBackups = plan.mode === "purge" ? 0 : config.backups;
  const backupDir = keepBackups > 0 ? `${manifestDir}/${BACKUPS_DIR}/${runId}` : undefined;
  const backupOf = new Map<string, string>();
  if (backupDir !== undefined) {
    const existed = (path: string) => (listed ? listed.files.get(path)?.type === "file" : baseFiles.has(path));
    for (const { file } of uploads) if (existed(file.path)) backupOf.set(file.path, `${backupDir}/${file.path}`);
    for (const path of deletes) backupOf.set(path, `${backupDir}/${path}`);
  }
  // A partial temp file is resumed only when it holds the start of this very content (the same hash), so a rerun
  // after the file changed starts again in a new temp file.
  const resumable = new Map<string, string>();
  const earlier = new Set(journal?.header.planned ?? []);
  for (const { file } of uploads) {
    if (file.size < RESUME_MIN_BYTES || journal === undefined) continue;
    if (journal.header.resumable?.[file.path]?.hash !== file.hash) continue;
    resumable.set(file.path, journal.temps.get(file.path) ?? tempNameFor(file.path, runId));
  }
  const log = await state.startJournal({
    kind: "start",
    runId,
    baseId: base?.id,
    planned: uploads.map((u) => u.file.path),
    resumable: Object.fromEntries(
      uploads
        // a file the last run planned but this run cannot resume: its first temp name may hold the old content's
        // start, so a rerun must not take it for this content's (it gets a fresh, journalled temp name instead)
        .filter((u) => u.file.size >= RESUME_MIN_BYTES && (resumable.has(u.file.path) || !earlier.has(u.file.path)))
        .map((u) => {
          const temp = resumable.get(u.file.path);
          return [
            u.file.path,
            { hash: u.file.hash, ...(temp && temp !== tempNameFor(u.file.path, runId) ? { temp } : {}) },
          ];
        }),
    ),
    stale: tempsToRemove.filter(isTempName),
  });
  const totalBytes = uploads.reduce((n, u) => n + u.file.size, 0);
  const ctx: _RunContext = {
    options,
    pool,
    log,
    runId,
    resumable,
    earlier,
    temps: new Map([...(journal?.temps ?? [])].map(([path, name]) => [path, { name, used: true }])),
    stale: [],
    result,
    progress,
    totalBytes,
    random,
    phaseDone: new Map(),
    backupOf,
    freshBackups: journal === undefined,
    asideTried: new Set(),
  };
  const uploadStart = performance.now();
  try {
    // directories, parents first, one depth level at a time (siblings in parallel)
    const needDirs = new Set(mkdirs);
    if (remoteMissing || plan.mode === "purge") needDirs.add(manifestDir);
    for (const backup of backupOf.values()) for (const dir of parentsOf(backup)) needDirs.add(dir);
    await _mkdirs(ctx, [...needDirs].sort(byDepth));
    for (const phase of PHASES) {
      const batch = uploads.filter((u) => u.phase === phase).map((u) => u.file);
      await _deployPhase(ctx, batch, phase);
    }
    const uploadMs = performance.now() - uploadStart;
    result.stats.throughput = uploadMs > 0 ? Math.round((result.stats.bytes * 1000) / uploadMs) : 0;
    // deletions last: first files, then directories deepest first
    let deleted = 0;
    const deleteTotal = deletes.length + deleteDirs.length;
    await forEachLimit(deletes, pool.size, async (path) => {
      const backup = backupOf.get(path);
      await _withRetries(
        ctx,
        path,
        // kept aside for a rollback; a copy an earlier attempt of this run kept already is the one to keep (the first
        // attempt into a new backup folder need not ask)
        async (fs) => {
          if (backup === undefined) return fs.remove(path);
          const first = ctx.freshBackups && !ctx.asideTried.has(backup);
          ctx.asideTried.add(backup);
          return first || (await fs.stat(backup)) === undefined ? fs.rename(path, backup) : fs.remove(path);
        },
        { missingOk: true },
      );
      await log.append({ kind: "deleted", path });
      result.stats.deleted++;
      progress({ ..._counts(ctx), phase: "delete", done: ++deleted, total: deleteTotal, path, outcome: "deleted" });
    }).catch(() => {});
    for (const dir of deleteDirs) {
      // only when empty: a directory may hold files we never deployed (protected ones, or someone's uploads)
      const ok = await _withRetries(ctx, `${dir}/`, async (fs) => {
        // one RMD when it is empty, as it mostly is; else the listing says why not
        if (
          fs.removeEmptyDir &&
          (await fs.removeEmptyDir(dir).then(
            () => true,
            () => false,
          ))
        )
          return;
        const entries = await fs.list(dir).catch(() => undefined);
        if (entries === undefined) return;
        if (entries.length === 0) await fs.removeDir(dir);
        else throw new SiteloomError("ERR_TRANSFER_IO", "not removed: the directory still holds other files");
      });
      if (ok) {
        result.stats.deleted++;
        baseDirs.delete(dir);
      }
      progress({ ..._counts(ctx), phase: "delete", done: ++deleted, total: deleteTotal, path: `${dir}/` });
    }
    await Promise.all([...tempsToRemove, ...ctx.stale].map((tmp) => pool.run((fs) => fs.remove(tmp)).catch(() => {})));
  } finally {
    await log.close();
  }

  // 7. the new manifest: what is on the server now (a failed file keeps its previous entry: the rename never happened)
  const files: Record<string, ManifestEntry> = Object.fromEntries(baseFiles);
  const failed = new Set(result.failures.map((f) => f.path));
  // every local file that did not fail is now on the server as it is here (uploaded, or found identical)
  for (const file of tree.files.values()) {
    if (!failed.has(file.path)) files[file.path] = { size: file.size, hash: file.hash, mtime: file.mtime };
  }
  const deletedNow = new Set(deletes.filter((p) => !failed.has(p)));
  for (const path of deletedNow) delete files[path];
  const dirs = new Set([...baseDirs, ...localDirs]);
  for (const dir of deleteDirs) if (!failed.has(`${dir}/`)) dirs.delete(dir);
  const id = randomUUID();
  const before = listed
    ? { files: new Set(listed.files.keys()), dirs: new Set(listed.dirs.keys()) }
    : { files: new Set(Object.keys(base?.files ?? {})), dirs: new Set(base?.dirs ?? []) };
  const record: DeployBackup | undefined =
    backupDir === undefined
      ? undefined
      : {
          id,
          previousId: base?.id,
          finishedAt: new Date().toISOString(),
          dir: backupDir,
          saved: _savedEntries(base, listed, files, backupOf, failed),
          added: Object.keys(files).filter((p) => !before.files.has(p)),
          addedDirs: [...dirs].filter((d) => !before.dirs.has(d)),
        };
  const backups = [...(record ? [record] : []), ...(base?.backups ?? [])].slice(0, keepBackups);
  const manifest = createManifest({ id, previousId: base?.id, site, env, files, dirs: [...dirs], backups });
  progress({ ..._counts(ctx), phase: "finish", done: 0, total: 1 });
  await storeManifest({ pool, site, runId, manifestDir, manifest, firstTime: remoteMissing, state });
  result.manifestId = manifest.id;
  // backups past the retention (or of a history a purge ended): their folders go once the manifest no longer names them
  const kept = new Set(backups.map((b) => b.dir));
  const dropped = (base?.backups ?? []).filter((b) => !kept.has(b.dir) && isBackupDir(b.dir, manifestDir));
  await Promise.all(dropped.map((b) => dropBackup(pool, b)));
  // with failures the journal stays: the next run reuses its temp names and resumes the partial uploads
  if (result.failures.length === 0) await state.removeJournal();
  return finishResult(result, started, pool);
}

export function finishResult(result: DeployResult, started: number, pool: RemotePool): DeployResult {
  result.stats.durationMs = Math.round(performance.now() - started);
  result.stats.connections = pool.connectionsOpened;
  return result;
}

// --- internal ---

interface _RunContext {
  options: DeployOptions;
  pool: RemotePool;
  log: Journal;
  runId: string;
  /** Large files whose partial temp file (the value) a rerun may continue. */
  resumable: Map<string, string>;
  /** Paths the interrupted run planned: their first temp names may hold its bytes. */
  earlier: Set<string>;
  /** Each upload's current temp file where it is not the first name, and whether an attempt has written to it. */
  temps: Map<string, { name: string; used: boolean }>;
  /** Temp files left behind by broken attempts: removed at the end, never renamed into place. */
  stale: string[];
  result: DeployResult;
  progress: (event: DeployProgress) => void;
  totalBytes: number;
  random: () => number;
  phaseDone: Map<Phase, number>;
  /** Files this run replaces or deletes → where their previous version is kept (`deploy.backups`). */
  backupOf: Map<string, string>;
  /** Whether the backup folder is this run's own, new one (not a resumed run's, which may hold backups already). */
  freshBackups: boolean;
  /** Backups a put has tried to make: a later attempt asks the server whether the first one made it. */
  asideTried: Set<string>;
}

/** Files smaller than this are uploaded again from the start after a failure rather than resumed. */
const RESUME_MIN_BYTES = 256 * 1024;

/**
 * Uploads a phase: every file goes to a temp name, is checked and renamed into place, the pool's connections working
 * in parallel. Where the backend has `put` (FTP) that is a few pipelined round trips, and each rename rides in the
 * connection's next batch; the phase ends when every connection has sent its last rename.
 */
async function _deployPhase(ctx: _RunContext, phaseFiles: LocalFile[], phase: Phase): Promise<void> {
  // Big files first: a slow transfer starting last would keep the phase waiting at its end.
  const files = [...phaseFiles].sort((a, b) => b.size - a.size || compareNames(a.path, b.path));
  const placed: Promise<void>[] = [];
  const record = async (file: LocalFile, ok: boolean) => {
    if (ok) {
      await ctx.log.append({ kind: "done", path: file.path, size: file.size, hash: file.hash, mtime: file.mtime });
      ctx.result.stats.uploaded++;
      ctx.result.stats.bytes += file.size;
    }
    _phaseProgress(ctx, phase, files.length, file, ok);
  };
  await forEachLimit(files, ctx.pool.size, async (file) => {
    const deferred = await _putDeferred(ctx, file);
    if (deferred === undefined) await record(file, await _putFile(ctx, file));
    else placed.push(deferred.placed.then((ok) => record(file, ok)));
  });
  // the renames still pending on each connection, then what their outcomes set off (a re-upload when one failed)
  await ctx.pool.each(async (fs) => fs.flush?.()).catch(() => {});
  await Promise.all(placed);
}

/**
 * The fast path: an upload whose rename is deferred (`put` with `onPlaced`). Returns undefined when the backend or
 * the settings need the plain path (no `put`, hash verification, a large file that may need resuming); else `placed`, a
 * promise of whether the file ended in place. A failed or uncertain rename uploads the file again on the plain path.
 */
async function _putDeferred(ctx: _RunContext, file: LocalFile): Promise<{ placed: Promise<boolean> } | undefined> {
  const { options } = ctx;
  const verify = options.config.verify;
  // large files take the plain path, whose retries resume from what arrived
  // so do files whose previous version is moved aside first (two renames, back to back)
  if (verify === "hash" || file.size >= RESUME_MIN_BYTES || ctx.backupOf.has(file.path)) return undefined;
  const local = join(options.outputDir, ...file.path.split("/"));
  let settle: (ok: boolean) => void = () => {};
  const done = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const onPlaced = (error?: Error) => {
    if (error === undefined) settle(true);
    else void _putFile(ctx, file).then(settle);
  };
  let plain = false;
  const sent = await _withRetries(ctx, file.path, async (fs) => {
    // deferral needs `flush` to end the phase: a backend (or a wrapper) without it takes the plain path
    if (!fs.put || !fs.flush) {
      plain = true;
      return;
    }
    const tmp = await _freshTemp(ctx, file.path);
    await fs.put(local, tmp, file.path, { ...(verify === "size" ? { expectedSize: file.size } : {}), onPlaced });
  });
  if (plain) return undefined;
  if (!sent) settle(false);
  return { placed: done };
}

/**
 * Uploads one file to its temp name (resuming a partial temp when possible), checks it (`deploy.verify`) and renames
 * it into place. Retried with backoff; a retry after a broken transfer of a large file resumes from what arrived.
 */
async function _putFile(ctx: _RunContext, file: LocalFile): Promise<boolean> {
  const { options } = ctx;
  const local = join(options.outputDir, ...file.path.split("/"));
  const verify = options.config.verify;
  const large = file.size >= RESUME_MIN_BYTES;
  const carried = ctx.resumable.get(file.path);
  if (carried !== undefined) ctx.temps.set(file.path, { name: carried, used: true });
  let tryResume = carried !== undefined;
  return _withRetries(ctx, file.path, async (fs) => {
    let startAt = 0;
    let tmp = ctx.temps.get(file.path)?.name;
    if (tryResume && tmp !== undefined) {
      const partial = await fs.stat(tmp).catch(() => undefined);
      if (partial?.type === "file" && partial.size > 0 && partial.size < file.size) startAt = partial.size;
    }
    tryResume = large; // a retry after a broken transfer resumes from what arrived
    // starting from byte 0 means a temp file no earlier attempt wrote to
    if (startAt === 0 || tmp === undefined) tmp = await _freshTemp(ctx, file.path);
    const backup = ctx.backupOf.get(file.path);
    // In a new backup folder (not a resumed run's), a first attempt finds no backup of this file: it moves the
    // version there aside without asking the server first, in the same put.
    const firstAside = backup !== undefined && ctx.freshBackups && !ctx.asideTried.has(backup);
    if (backup !== undefined) ctx.asideTried.add(backup);
    if (startAt === 0 && fs.put && verify !== "hash" && (backup === undefined || firstAside)) {
      await fs.put(local, tmp, file.path, {
        ...(verify === "size" ? { expectedSize: file.size } : {}),
        ...(backup !== undefined ? { keepPrevious: backup } : {}),
      });
      return;
    }
    await (startAt > 0 ? fs.upload(local, tmp, { startAt }) : fs.upload(local, tmp)).catch((error: unknown) => {
      // a server that refuses to append (ProFTPD without AllowStoreRestart): the retry sends the whole file
      if (startAt > 0 && !isConnectionError(error)) tryResume = false;
      throw error;
    });
    if (startAt > 0) ctx.result.notes.push(`${file.path}: resumed at byte ${startAt}`);
    // a resumed file is always measured: a server that took REST but wrote from byte 0 shows here
    if (verify !== "none" || startAt > 0) {
      const st = await fs.stat(tmp);
      if (st === undefined || st.size !== file.size) {
        tryResume = false;
        throw new SiteloomError(
          "ERR_TRANSFER_IO",
          `size check failed after upload: the server has ${st?.size ?? "no"} bytes, expected ${file.size}`,
        );
      }
    }
    if (verify === "hash") {
      const copy = join(tmpdir(), `siteloom-verify-${ctx.runId}-${randomBytes(4).toString("hex")}`);
      try {
        await fs.download(tmp, copy);
        if ((await hashFile(copy)) !== file.hash) {
          tryResume = false;
          throw new SiteloomError("ERR_TRANSFER_IO", "hash check failed after upload: the server's copy differs");
        }
      } finally {
        await rm(copy, { force: true });
      }
    }
    const moved = backup !== undefined && (await _keepPrevious(fs, file.path, backup));
    await fs.rename(tmp, file.path).catch(async (error: unknown) => {
      // the previous version goes back under its name: a failed file keeps its old version live
      if (moved) await fs.rename(backup, file.path).catch(() => {});
      throw error;
    });
  }).then(async (ok) => {
    // out of tries with the previous version set aside (a broken connection): put it back, when nothing took its place
    const backup = ctx.backupOf.get(file.path);
    if (!ok && backup !== undefined) {
      await ctx.pool
        .run(async (fs) => {
          if ((await fs.stat(file.path)) === undefined && (await fs.stat(backup)) !== undefined) {
            await fs.rename(backup, file.path);
          }
        })
        .catch(() => {});
    }
    return ok;
  });
}

/**
 * Moves the version on the server aside into the backup folder, just before the new one is renamed over its name.
 * A backup an earlier attempt of this run made is kept (the file there now may already be the new one), and a file
 * missing on the server has nothing to keep. True when it moved the file.
 */
async function _keepPrevious(fs: RemoteFS, path: string, backup: string): Promise<boolean> {
  if ((await fs.stat(backup)) !== undefined) return false;
  return fs.rename(path, backup).then(
    () => true,
    (error: unknown) => {
      if (!isMissingError(error)) throw error;
      return false;
    },
  );
}

/**
 * The entries a deploy's backup holds: from the manifest, the files whose content this run changed or removed; from
 * a listing (no manifest), the files it moved aside. A failed file kept its version, so it has none.
 */
function _savedEntries(
  base: Manifest | undefined,
  listed: DeployListing["remote"] | undefined,
  files: Record<string, ManifestEntry>,
  backupOf: Map<string, string>,
  failed: Set<string>,
): Record<string, ManifestEntry> {
  const saved: Record<string, ManifestEntry> = {};
  if (listed !== undefined) {
    for (const path of backupOf.keys()) {
      const entry = listed.files.get(path);
      if (entry === undefined || failed.has(path)) continue;
      saved[path] = { size: entry.size, hash: "", mtime: entry.mtime ?? 0 };
    }
    return saved;
  }
  for (const [path, entry] of Object.entries(base?.files ?? {})) {
    if (files[path]?.hash !== entry.hash) saved[path] = entry;
  }
  return saved;
}

/**
 * The temp name for an upload attempt that starts from byte 0: the file's first name while nothing has written to it,
 * else a new one (`tempNameFor` with a tag), journalled so that a rerun removes it. The earlier one is stale: a server
 * process of the broken attempt may still be writing it, and would go on writing into the file after a rename.
 */
async function _freshTemp(ctx: _RunContext, path: string): Promise<string> {
  const current = ctx.temps.get(path) ?? { name: tempNameFor(path, ctx.runId), used: ctx.earlier.has(path) };
  if (!current.used) {
    ctx.temps.set(path, { name: current.name, used: true });
    return current.name;
  }
  const name = tempNameFor(path, ctx.runId, randomBytes(2).toString("hex"));
  ctx.stale.push(current.name);
  ctx.temps.set(path, { name, used: true });
  await ctx.log.append({ kind: "temp", path, temp: name });
  return name;
}

function _phaseProgress(ctx: _RunContext, phase: Phase, total: number, file: LocalFile, ok: boolean): void {
  const done = (ctx.phaseDone.get(phase) ?? 0) + 1;
  ctx.phaseDone.set(phase, done);
  ctx.progress({ ..._counts(ctx), phase, done, total, path: file.path, outcome: ok ? "uploaded" : "failed" });
}

/** `deploy.retries`, `retryBaseMs`, `retryMaxMs` as `runWithRetry` options. */
export function deployBackoff(config: DeployOptions["config"], random: () => number) {
  return { retries: config.retries, baseMs: config.retryBaseMs, maxMs: config.retryMaxMs, random };
}

/** Runs `op` on a pooled connection with exponential backoff and full jitter; records the failure when out of tries. */
async function _withRetries(
  ctx: _RunContext,
  path: string,
  op: (fs: RemoteFS) => Promise<void>,
  opts: { missingOk?: boolean } = {},
): Promise<boolean> {
  const missing = (error: unknown) => opts.missingOk === true && isMissingError(error);
  try {
    await runWithRetry(() => ctx.pool.run(op), {
      ...deployBackoff(ctx.options.config, ctx.random),
      classify: (error) => ({
        retry: !missing(error) && !(error instanceof SiteloomError && error.code === "ERR_TRANSFER_UNSAFE_PATH"),
      }),
      onRetry: ({ error }) => {
        ctx.result.stats.retries++;
        publishActivity({ kind: "retry", what: "deploy", site: ctx.options.site });
        const message = replyLine(error);
        ctx.progress({ ..._counts(ctx), phase: "assets", done: 0, total: 0, path, outcome: "retry", message });
      },
    });
    return true;
  } catch (error) {
    if (missing(error)) return true;
    const message = replyLine(error);
    ctx.result.failures.push({ path, message });
    ctx.result.stats.failed++;
    if (/(size|hash) check failed after upload/.test(message)) _verifyMismatch(ctx, path, message);
    return false;
  }
}

/** A file the server kept differently from what was sent, after every retry: an alert-worthy event. */
function _verifyMismatch(ctx: _RunContext, path: string, message: string): void {
  publishEvent({
    action: "deploy.verify-mismatch",
    ref: `${ctx.options.site}:${path}`,
    env: ctx.options.env,
    actor: currentActor(),
    outcome: "error",
    error: "ERR_TRANSFER_IO",
    site: ctx.options.site,
    detail: redact(message).slice(0, 200),
  });
}

async function _mkdirs(ctx: _RunContext, dirs: string[]): Promise<void> {
  if (dirs.length === 0) return;
  // One pipelined batch where the backend can (parents are sorted first); else one level at a time, in parallel.
  const many = await ctx.pool
    .run(async (fs) => {
      if (!fs.mkdirMany) return false;
      await fs.mkdirMany(dirs);
      return true;
    })
    .catch(() => false);
  if (many) {
    ctx.result.stats.dirsCreated += dirs.length;
    ctx.progress({ ..._counts(ctx), phase: "mkdir", done: dirs.length, total: dirs.length });
    return;
  }
  let done = 0;
  const byDepth = new Map<number, string[]>();
  for (const dir of dirs) {
    const depth = dir.split("/").length;
    byDepth.set(depth, [...(byDepth.get(depth) ?? []), dir]);
  }
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    await forEachLimit(byDepth.get(depth)!, ctx.pool.size, async (dir) => {
      if (await _withRetries(ctx, `${dir}/`, (fs) => fs.mkdir(dir))) ctx.result.stats.dirsCreated++;
      ctx.progress({ ..._counts(ctx), phase: "mkdir", done: ++done, total: dirs.length, path: `${dir}/` });
    });
  }
}

function _counts(ctx: _RunContext): { bytes: number; totalBytes: number } {
  return { bytes: ctx.result.stats.bytes, totalBytes: ctx.totalBytes };
}
