import { randomBytes, randomUUID } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { forEachLimit } from "../../concurrency.ts";
import { ExportSchema, type SiteConfig } from "../../config/index.ts";
import { SiteloomError } from "../../errors.ts";
import { currentActor, publishActivity, publishEvent } from "../../events.ts";
import { runWithRetry } from "../../retry.ts";
import { redact } from "../../secret.ts";
import { acquireLock, type HeldLock, newRunId, openStateStore, type StateStore } from "../../store/index.ts";
import { hashFile, type LocalFile, scanTree } from "../hash.ts";
import { printablePath } from "../paths.ts";
import { isConnectionError, isMissingError } from "../pool.ts";
import type { RemoteEntry, RemoteFS, RemotePool } from "../types.ts";
import { type RemoteTree, type WalkRemoteOptions, walkRemote } from "../walk.ts";
import { dropBackup } from "./backups.ts";
import type { Journal } from "./journal.ts";
import {
  BACKUPS_DIR,
  createManifest,
  DENY_ALL_HTACCESS,
  type DeployBackup,
  isBackupDir,
  MANIFEST_FILE,
  type Manifest,
  type ManifestEntry,
  type ParsedManifest,
  parseManifest,
  serializeManifest,
} from "./manifest.ts";
import {
  createMatcher,
  isTempName,
  normaliseManifestDir,
  PHASES,
  type Phase,
  parentsOf,
  phaseOf,
  tempNameFor,
} from "./plan.ts";
import { createDeployState, type DeployState } from "./state.ts";

export interface DeployOptions {
  /** Site name (recorded in the manifest; a manifest of another site is treated as foreign). */
  site: string;
  /** Environment name (part of the local state file name). */
  env: string;
  /** The local tree to deploy (sites/<name>/output). */
  outputDir: string;
  /** The workspace state directory (.siteloom); the local copy of the manifest lives under deploy/ (see ./state.ts). */
  stateDir: string;
  /**
   * The state store holding the deploy target's lock (`deploy:<site>:<env>`), manifest and journal (./state.ts).
   * @default the workspace's store in stateDir, opened and closed by this call
   */
  store?: StateStore;
  /** What holds the deploy lock, shown to a second deploy of the same target: the run id. @default a new id */
  lockOwner?: string;
  /** Connections to the host. The caller closes it. */
  pool: RemotePool;
  /** The site's `deploy` configuration section. */
  config: SiteConfig["deploy"];
  /** Plan only: nothing is changed on either side. */
  dryRun?: boolean;
  /** Delete remote files that are not in output/ (never the manifest or `protect` patterns). */
  delete?: boolean;
  /** Empty the remote root first (except the manifest and `protect` patterns). */
  purge?: boolean;
  /** Compare with a listing of the server, and download and hash what looks different, instead of trusting the manifest. */
  verify?: boolean;
  /** Asked before a purge deletes anything; the deploy stops unless it returns true. */
  confirmPurge?: (paths: string[]) => Promise<boolean>;
  /** Progress events (a progress bar or plain lines). */
  onProgress?: (event: DeployProgress) => void;
  /** Random source for backoff jitter (tests). @default Math.random */
  random?: () => number;
}

export interface DeployProgress {
  phase: "scan" | "manifest" | "listing" | "purge" | "mkdir" | Phase | "delete" | "finish";
  /** Files (or directories) done in this phase so far, and the phase's total. */
  done: number;
  total: number;
  /** Bytes uploaded so far in the whole run, and the total planned. */
  bytes: number;
  totalBytes: number;
  /** The file just finished, when there is one. */
  path?: string;
  /** What happened to it. */
  outcome?: "uploaded" | "failed" | "deleted" | "retry";
  message?: string;
}

export interface DeployStats {
  uploaded: number;
  skipped: number;
  deleted: number;
  failed: number;
  dirsCreated: number;
  bytes: number;
  durationMs: number;
  /** Bytes per second while uploading. */
  throughput: number;
  retries: number;
  /** Logins made (initial connections and reconnects). */
  connections: number;
}

export interface DeployFailure {
  path: string;
  /** The server's reply or the local error. */
  message: string;
}

export interface DeployResult {
  site: string;
  env: string;
  dryRun: boolean;
  /** How the plan was made: from the manifest alone, from a listing of the server, or after a purge. */
  mode: "manifest" | "listing" | "purge";
  /** Why the manifest was not trusted (listing mode), or notes such as a manifest written by another machine. */
  notes: string[];
  plan: {
    mkdir: string[];
    upload: { path: string; size: number; phase: Phase; reason: string }[];
    delete: string[];
    purge: string[];
  };
  /** Files skipped by the listing comparison with the reason (listing mode), for the report. */
  resumed: number;
  stats: DeployStats;
  failures: DeployFailure[];
  /** Id of the manifest now on the server. */
  manifestId: string | undefined;
}

/**
 * Deploys output/ to the remote root: plan from content hashes against the last manifest (or a listing of the server
 * when the manifest is missing, foreign or `verify` is set) → directories → uploads to temp names renamed into place,
 * assets before pages before sitemap/robots/feeds → deletions → new manifest. A journal makes a killed run resumable.
 */
export async function runDeploy(options: DeployOptions): Promise<DeployResult> {
  const started = performance.now();
  const { config, site } = options;
  const random = options.random ?? Math.random;
  const manifestDir = normaliseManifestDir(config.manifestPath);
  if (manifestDir === undefined) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `deploy.manifestPath "${config.manifestPath}" must be a folder inside remote.root (e.g. ".siteloom"); to keep it out of the web, point remote.root one level up and the site into a sub-folder`,
      { site },
    );
  }
  const manifestFile = `${manifestDir}/${MANIFEST_FILE}`;
  const isProtected = createMatcher(config.protect);
  const keepRemote = (path: string, isDir = false) =>
    path === manifestDir || path.startsWith(`${manifestDir}/`) || isProtected(path, isDir);

  const outputStat = await stat(options.outputDir).catch(() => undefined);
  if (!outputStat?.isDirectory()) {
    throw new SiteloomError(
      "ERR_USAGE",
      `nothing to deploy: ${options.outputDir} does not exist (run \`siteloom enrich ${site}\` first)`,
      { site },
    );
  }

  return withDeployLock(options, (state) =>
    _deploy(options, { started, manifestDir, manifestFile, keepRemote, state, random }),
  );
}

/**
 * Runs `fn` holding the lock of the deploy target (`deploy:<site>:<env>`), with the target's state: two deploys (or a
 * deploy and a rollback) of one target at once would fight over the journal, the temp names and the manifest. A dry
 * run takes no lock.
 */
export async function withDeployLock<T>(
  options: Pick<DeployOptions, "site" | "env" | "stateDir" | "store" | "lockOwner" | "dryRun">,
  fn: (state: DeployState) => Promise<T>,
): Promise<T> {
  const { site, env } = options;
  const store = options.store ?? (options.dryRun ? undefined : openStateStore({ stateDir: options.stateDir }));
  let lock: HeldLock | undefined;
  try {
    if (store && !options.dryRun) {
      lock = await acquireLock({
        store,
        name: `deploy:${site}:${env}`,
        owner: options.lockOwner ?? newRunId(),
        subject: `the deploy of ${site} (${env})`,
        site,
        hint: "wait for it to finish, then deploy again",
      });
    }
    return await fn(createDeployState({ store, stateDir: options.stateDir, site, env }));
  } finally {
    await lock?.release();
    if (store && !options.store) await store.close();
  }
}

/**
 * Writes a new manifest to the server (temp name and rename; a deny-all .htaccess beside it the first time), then
 * into the target's state with the stamp that lets the next run recognise it with one stat.
 */
export async function storeManifest(opts: _ManifestWrite & { state: DeployState }): Promise<void> {
  const written = await _writeRemoteManifest(opts);
  await opts.state.saveManifest(opts.manifest);
  await opts.state.saveStamp(opts.manifest.id, written);
}

/**
 * Retries a step (manifest read, listings, a rollback's copies) on connection-level trouble with the deploy's backoff
 * (`deploy.retries`, `retryBaseMs`, `retryMaxMs`); a refused login, host key or unsafe path is not retried.
 */
export function retryDeployStep<T>(
  config: DeployOptions["config"],
  fn: () => Promise<T>,
  random: () => number = Math.random,
): Promise<T> {
  return runWithRetry(fn, {
    ..._backoff(config, random),
    classify: (error) => ({
      retry:
        isConnectionError(error) &&
        !(
          error instanceof SiteloomError &&
          ["ERR_TRANSFER_UNSAFE_PATH", "ERR_TRANSFER_AUTH", "ERR_TRANSFER_HOST_KEY", "ERR_TRANSFER_TLS"].includes(
            error.code,
          )
        ),
    }),
  });
}

interface _Setup {
  started: number;
  manifestDir: string;
  manifestFile: string;
  keepRemote: (path: string, isDir?: boolean) => boolean;
  /** The last manifest, the remote manifest's stamp and the journal, wherever they live. */
  state: DeployState;
  random: () => number;
}

async function _deploy(options: DeployOptions, setup: _Setup): Promise<DeployResult> {
  const { pool, config, site, env } = options;
  const { started, manifestDir, manifestFile, keepRemote, state, random } = setup;
  const progress = options.onProgress ?? (() => {});
  // The remote manifest is asked for first: logging in and reading it takes round trips that reading our copy of the
  // manifest and the local scan overlap.
  const localRead = state.loadManifest();
  const again = <T>(fn: () => Promise<T>) => retryDeployStep(config, fn, random);
  const remoteRead = again(() =>
    pool.run(async (fs) => {
      const local = await localRead;
      const trusted = options.verify || options.purge ? undefined : local;
      return _readRemote(fs, manifestFile, state, site, trusted);
    }),
  );
  remoteRead.catch(() => {}); // awaited below; not an unhandled rejection while the scan runs
  const localManifest = await localRead;
  // 1. local side: the state copy of the manifest doubles as a hash cache, so an unchanged tree is not read again
  progress({ phase: "scan", done: 0, total: 0, bytes: 0, totalBytes: 0 });
  const cache = new Map(Object.entries(localManifest?.files ?? {}).map(([p, e]) => [p, e]));
  const tree = await scanTree(options.outputDir, {
    cache,
    skip: (path) => path === manifestDir || isTempName(path),
  });
  const localDirs = tree.dirs.filter((d) => d !== manifestDir);
  // Changes against our last deploy mean uploads are coming: log the other connections in while the manifest is read.
  const changed = [...tree.files.values()].filter((f) => localManifest?.files[f.path]?.hash !== f.hash).length;
  if (!options.dryRun && changed > 0) pool.prewarm(Math.min(pool.size, changed + 1));

  // 2. the remote manifest: one small read (or a stat showing it is the one we wrote or read last time)
  progress({ phase: "manifest", done: 0, total: 1, bytes: 0, totalBytes: 0 });
  const parsed = await remoteRead;
  const remoteMissing = parsed === undefined;
  const notes: string[] = [];
  let base: Manifest | undefined;
  let mode: DeployResult["mode"] = "manifest";
  if (parsed === undefined) {
    mode = "listing";
    notes.push(
      localManifest === undefined
        ? "no deploy manifest on the server (first deploy here): comparing with a listing of the server"
        : `the deploy manifest ${manifestFile} is missing on the server (removed by hand?): comparing with a listing`,
    );
  } else if (parsed.ok) {
    base = parsed.manifest;
    if (localManifest !== undefined && localManifest.id !== parsed.manifest.id) {
      const id = parsed.manifest.id.slice(0, 8);
      notes.push(`the server was last deployed by another run (manifest ${id}), using its manifest`);
    }
  } else {
    mode = "listing";
    notes.push(`the deploy manifest on the server cannot be trusted (${parsed.reason}): comparing with a listing`);
  }
  if (options.verify && mode === "manifest") {
    mode = "listing";
    notes.push("--verify: comparing with a listing of the server");
  }

  // 3. a journal left by an interrupted run: its finished files are on the server already
  const journal = await state.loadJournal();
  const baseFiles = new Map<string, ManifestEntry>(Object.entries(base?.files ?? {}));
  const baseDirs = new Set(base?.dirs ?? []);
  let resumed = 0;
  if (journal !== undefined && journal.header.baseId === base?.id) {
    for (const [path, done] of journal.done) {
      baseFiles.set(path, { size: done.size, hash: done.hash, mtime: done.mtime });
      for (const parent of parentsOf(path)) baseDirs.add(parent);
      resumed++;
    }
    for (const path of journal.deleted) baseFiles.delete(path);
    if (resumed > 0) notes.push(`resuming an interrupted deploy: ${resumed} file(s) were already in place`);
  }

  const result: DeployResult = {
    site,
    env,
    dryRun: options.dryRun === true,
    mode,
    notes,
    plan: { mkdir: [], upload: [], delete: [], purge: [] },
    resumed,
    stats: {
      uploaded: 0,
      skipped: 0,
      deleted: 0,
      failed: 0,
      dirsCreated: 0,
      bytes: 0,
      durationMs: 0,
      throughput: 0,
      retries: 0,
      connections: 0,
    },
    failures: [],
    manifestId: base?.id,
  };

  // 4. purge: empty the root (but the manifest folder and protected paths), then everything is uploaded
  const tempsToRemove: string[] = [];
  if (options.purge) {
    progress({ phase: "listing", done: 0, total: 0, bytes: 0, totalBytes: 0 });
    const remote = await again(() => _walkWhole(pool, site, { skipDir: (p) => keepRemote(p, true) }));
    const files = [...remote.files.keys()].filter((p) => !keepRemote(p) && !_underKept(p, keepRemote));
    const dirs = [...remote.dirs.keys()].filter((p) => !keepRemote(p, true) && !_underKept(p, keepRemote));
    result.plan.purge = [...files, ...dirs.map((d) => `${d}/`)];
    if (!options.dryRun && result.plan.purge.length > 0) {
      const go = options.confirmPurge ? await options.confirmPurge(result.plan.purge) : false;
      if (!go) throw new SiteloomError("ERR_INTERRUPTED", "purge cancelled: nothing was deleted", { site });
      await _purge(pool, files, dirs, remote.dirs.size, keepRemote, progress);
    }
    mode = result.mode = "purge";
    baseFiles.clear();
    baseDirs.clear();
  }

  // 5. the plan
  const uploads: { file: LocalFile; reason: string }[] = [];
  const mkdirs: string[] = [];
  const deletes: string[] = [];
  const deleteDirs: string[] = [];
  // what the server held before this run, where the manifest cannot say (listing mode): what backups are made of
  let listed: RemoteTree | undefined;
  if (mode === "listing") {
    progress({ phase: "listing", done: 0, total: 0, bytes: 0, totalBytes: 0 });
    // server times are compared with ours below: learn how far the server's clock is from ours first
    const clock = options.dryRun ? undefined : await _writeClockProbe(pool);
    const remote = await again(() =>
      _walkWhole(pool, site, {
        skipDir: (p) => p === manifestDir,
        onDir: () => progress({ phase: "listing", done: 0, total: 0, bytes: 0, totalBytes: 0 }),
      }),
    );
    listed = remote;
    const offset = clock === undefined ? 0 : _clockOffset(clock, remote.files.get(clock.temp)?.mtime);
    if (offset !== 0) {
      notes.push(`the server's clock is ${Math.round(offset / 60_000)} min off ours: its file times are corrected`);
    }
    const finishedAt = base ? Date.parse(base.finishedAt) + offset : Number.NaN;
    const toHash: { file: LocalFile; remote: string }[] = [];
    // without a trustworthy remote manifest, our own last deploy (state copy) still vouches for content hashes
    const vouch =
      base === undefined && !options.purge ? new Map(Object.entries(localManifest?.files ?? {})) : baseFiles;
    for (const file of tree.files.values()) {
      const r = remote.files.get(file.path) ?? remote.dirs.get(file.path);
      const known = vouch.get(file.path);
      if (r === undefined) uploads.push({ file, reason: "missing on the server" });
      else if (r.type !== "file") uploads.push({ file, reason: `the server has a ${r.type} there` });
      else if (r.size !== file.size) uploads.push({ file, reason: `size differs (server ${r.size} bytes)` });
      else if (known !== undefined && known.hash !== file.hash) uploads.push({ file, reason: "changed locally" });
      else if (options.verify) {
        // "looks different": no manifest entry to vouch for it, or touched on the server after the last deploy
        const touched = r.mtime !== undefined && Number.isFinite(finishedAt) && r.mtime > finishedAt + 120_000;
        if (known === undefined || touched) toHash.push({ file, remote: file.path });
      } else if (known === undefined && r.mtime !== undefined && !_notOlder(r.mtime, file.mtime + offset)) {
        uploads.push({ file, reason: "same size, older on the server" });
      } else if (known === undefined && r.mtime === undefined) {
        uploads.push({ file, reason: "same size, server reports no time" });
      }
    }
    if (toHash.length > 0) {
      const differing = await _hashRemote(pool, toHash);
      for (const file of differing) uploads.push({ file, reason: "content differs (hashed)" });
    }
    for (const dir of localDirs) if (!remote.dirs.has(dir)) mkdirs.push(dir);
    for (const [path, item] of remote.files) {
      if (isTempName(path)) tempsToRemove.push(path);
      else if (options.delete && !tree.files.has(path) && !keepRemote(path) && !_underKept(path, keepRemote)) {
        if (item.type === "file" || item.type === "symlink") deletes.push(path);
      }
    }
    if (options.delete) {
      const local = new Set(localDirs);
      for (const dir of remote.dirs.keys()) {
        if (!local.has(dir) && !keepRemote(dir, true) && !_underKept(dir, keepRemote)) {
          const still = [...remote.files.keys()].some(
            (p) => p.startsWith(`${dir}/`) && !deletes.includes(p) && !isTempName(p),
          );
          if (!still) deleteDirs.push(dir);
        }
      }
    }
  } else {
    for (const file of tree.files.values()) {
      const known = baseFiles.get(file.path);
      if (known === undefined) uploads.push({ file, reason: "new" });
      else if (known.hash !== file.hash || known.size !== file.size) uploads.push({ file, reason: "changed" });
    }
    for (const dir of localDirs) if (!baseDirs.has(dir)) mkdirs.push(dir);
    if (options.delete) {
      for (const path of baseFiles.keys()) {
        if (!tree.files.has(path) && !keepRemote(path) && !_underKept(path, keepRemote)) deletes.push(path);
      }
      const local = new Set(localDirs);
      for (const dir of baseDirs) {
        if (!local.has(dir) && !keepRemote(dir, true) && !_underKept(dir, keepRemote)) deleteDirs.push(dir);
      }
    }
  }
  // temp files of an interrupted run that this run does not resume
  const uploadPaths = new Set(uploads.map((u) => u.file.path));
  if (journal !== undefined) {
    tempsToRemove.push(...journal.stale);
    for (const path of journal.header.planned) {
      const first = tempNameFor(path, journal.header.runId);
      const current = journal.temps.get(path) ?? first;
      if (current !== first) tempsToRemove.push(first);
      // an upload of this run starts from its temp file (resumed) or moves away from it (`_freshTemp`)
      if (!uploadPaths.has(path)) tempsToRemove.push(current);
    }
  }
  mkdirs.sort(_byDepth);
  deleteDirs.sort((a, b) => _byDepth(b, a));
  const phaseRank = new Map(uploads.map((u) => [u.file.path, PHASES.indexOf(phaseOf(u.file.path))]));
  uploads.sort((a, b) => phaseRank.get(a.file.path)! - phaseRank.get(b.file.path)! || _cmp(a.file.path, b.file.path));
  result.plan.mkdir = mkdirs;
  result.plan.upload = uploads.map((u) => ({
    path: u.file.path,
    size: u.file.size,
    phase: PHASES[phaseRank.get(u.file.path)!]!,
    reason: u.reason,
  }));
  result.plan.delete = [...deletes, ...deleteDirs.map((d) => `${d}/`)];
  result.stats.skipped = tree.files.size - uploads.length;

  const nothingToDo = uploads.length === 0 && deletes.length === 0 && deleteDirs.length === 0 && mkdirs.length === 0;
  if (options.dryRun) return _finish(result, started, pool);
  if (nothingToDo && mode === "manifest" && base !== undefined && tempsToRemove.length === 0) {
    // a no-op deploy: keep the local copy in step (another machine may have deployed) and stop
    if (localManifest?.id !== base.id) await state.saveManifest(base);
    if (journal !== undefined) await state.removeJournal();
    return _finish(result, started, pool);
  }

  // 6. do it, journalled
  const runId = journal?.header.runId ?? randomBytes(4).toString("hex");
  // the versions this run replaces or deletes are moved aside into one backup folder per run (a rerun reuses it)
  const keepBackups = mode === "purge" ? 0 : config.backups;
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
    if (remoteMissing || mode === "purge") needDirs.add(manifestDir);
    for (const backup of backupOf.values()) for (const dir of parentsOf(backup)) needDirs.add(dir);
    await _mkdirs(ctx, [...needDirs].sort(_byDepth));
    for (const phase of PHASES) {
      const batch = uploads.filter((u) => PHASES[phaseRank.get(u.file.path)!] === phase).map((u) => u.file);
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
  return _finish(result, started, pool);
}

// --- internal ---

/** The server's tree within the export limits' defaults; a deploy never plans from a listing cut short. */
async function _walkWhole(pool: RemotePool, site: string, options: WalkRemoteOptions): Promise<RemoteTree> {
  const tree = await walkRemote(pool, { ...options, limits: _WALK_LIMITS });
  const hit = tree.limited[0];
  if (hit !== undefined) {
    throw new SiteloomError(
      "ERR_TRANSFER_LIMIT",
      `deploy of ${site}: the server's tree at "${printablePath(hit.path)}" ${hit.message}; nothing was changed`,
      { site },
    );
  }
  return tree;
}

const _WALK_LIMITS = ExportSchema.parse({});

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
  const files = [...phaseFiles].sort((a, b) => b.size - a.size || _cmp(a.path, b.path));
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
  listed: RemoteTree | undefined,
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
function _backoff(config: DeployOptions["config"], random: () => number) {
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
      ..._backoff(ctx.options.config, ctx.random),
      classify: (error) => ({
        retry: !missing(error) && !(error instanceof SiteloomError && error.code === "ERR_TRANSFER_UNSAFE_PATH"),
      }),
      onRetry: ({ error }) => {
        ctx.result.stats.retries++;
        publishActivity({ kind: "retry", what: "deploy", site: ctx.options.site });
        const message = _reply(error);
        ctx.progress({ ..._counts(ctx), phase: "assets", done: 0, total: 0, path, outcome: "retry", message });
      },
    });
    return true;
  } catch (error) {
    if (missing(error)) return true;
    const message = _reply(error);
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

/** A manifest to write into `manifestDir` on the server (`firstTime`: with the deny-all .htaccess beside it). */
interface _ManifestWrite {
  pool: RemotePool;
  site: string;
  runId: string;
  manifestDir: string;
  manifest: Manifest;
  firstTime: boolean;
}

async function _writeRemoteManifest(opts: _ManifestWrite): Promise<RemoteEntry | undefined> {
  const { manifestDir, manifest, firstTime, runId } = opts;
  const target = `${manifestDir}/${MANIFEST_FILE}`;
  const data = serializeManifest(manifest);
  let attempts = 0;
  try {
    return await opts.pool.run(async (fs) => {
      // a retry writes a new temp file: the broken attempt's server process may still write the old one
      const tmp = tempNameFor(target, runId, attempts++ === 0 ? undefined : randomBytes(2).toString("hex"));
      if (firstTime && (await fs.stat(`${manifestDir}/.htaccess`)) === undefined) {
        const htaccess = `${manifestDir}/.htaccess`;
        await fs.upload(Readable.from([Buffer.from(DENY_ALL_HTACCESS)]), tempNameFor(htaccess, runId));
        await fs.rename(tempNameFor(htaccess, runId), htaccess);
      }
      if (fs.put) await fs.put(Readable.from([data]), tmp, target, { expectedSize: data.length });
      else {
        await fs.upload(Readable.from([data]), tmp);
        await fs.rename(tmp, target);
      }
      // its size and time on the server: the next run's stat recognises it without downloading it
      return fs.stat(target).catch(() => undefined);
    });
  } catch (error) {
    throw new SiteloomError(
      "ERR_DEPLOY_FAILED",
      `the files were deployed but the manifest could not be written to ${target}: ${_reply(error)}; rerun the deploy`,
      { site: opts.site, cause: error },
    );
  }
}

/**
 * Reads the remote manifest, or returns "unchanged" when a stat shows it is still the file we last wrote or read
 * (same size and server time as recorded in the stamp, for the manifest id of our local copy): one round trip instead
 * of a download that grows with the site. Without a usable stamp it downloads, then records a stamp for next time.
 * A manifest rewritten by someone else changes its time (and almost surely its size), so it is downloaded.
 */
async function _readRemote(
  fs: RemoteFS,
  manifestFile: string,
  state: DeployState,
  site: string,
  local: Manifest | undefined,
): Promise<ParsedManifest | undefined> {
  const stamp = local ? await state.loadStamp() : undefined;
  if (local !== undefined && stamp?.id === local.id) {
    const now = await fs.stat(manifestFile);
    if (now?.type === "file" && now.size === stamp.size && now.mtime === stamp.mtime) {
      return { ok: true, manifest: local };
    }
  }
  const data = await fs.read(manifestFile);
  if (data === undefined) return undefined;
  const parsed = parseManifest(data, { site });
  // this manifest becomes our local copy (now, or after this run's changes replace it with a new stamp)
  if (parsed.ok && local !== undefined) {
    await state.saveStamp(parsed.manifest.id, await fs.stat(manifestFile).catch(() => undefined));
  }
  return parsed;
}

async function _purge(
  pool: RemotePool,
  files: string[],
  dirs: string[],
  _total: number,
  keep: (p: string, isDir?: boolean) => boolean,
  progress: (event: DeployProgress) => void,
): Promise<void> {
  let done = 0;
  const total = files.length + dirs.length;
  await forEachLimit(files, pool.size, async (path) => {
    await pool.run((fs) => fs.remove(path));
    progress({ phase: "purge", done: ++done, total, bytes: 0, totalBytes: 0, path, outcome: "deleted" });
  });
  // deepest first; a directory still holding kept files stays
  for (const dir of [...dirs].sort((a, b) => _byDepth(b, a))) {
    const entries = await pool.run((fs) => fs.list(dir));
    if (entries.length === 0) await pool.run((fs) => fs.removeDir(dir));
    else if (entries.every((e) => !keep(`${dir}/${e.name}`, e.type === "dir")))
      await pool.run((fs) => fs.removeDir(dir));
    progress({ phase: "purge", done: ++done, total, bytes: 0, totalBytes: 0, path: `${dir}/`, outcome: "deleted" });
  }
}

/** Downloads and hashes remote files; returns the local files whose remote content differs. */
async function _hashRemote(pool: RemotePool, items: { file: LocalFile; remote: string }[]): Promise<LocalFile[]> {
  const differing: LocalFile[] = [];
  await forEachLimit(items, pool.size, async ({ file, remote }) => {
    const copy = join(tmpdir(), `siteloom-verify-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await pool.run((fs) => fs.download(remote, copy));
      if ((await hashFile(copy)) !== file.hash) differing.push(file);
    } catch {
      differing.push(file);
    } finally {
      await rm(copy, { force: true });
    }
  });
  return differing;
}

function _counts(ctx: _RunContext): { bytes: number; totalBytes: number } {
  return { bytes: ctx.result.stats.bytes, totalBytes: ctx.totalBytes };
}

function _finish(result: DeployResult, started: number, pool: RemotePool): DeployResult {
  result.stats.durationMs = Math.round(performance.now() - started);
  result.stats.connections = pool.connectionsOpened;
  return result;
}

/** Whether a path lies under a kept (protected) directory. */
function _underKept(path: string, keep: (p: string, isDir?: boolean) => boolean): boolean {
  return parentsOf(path).some((dir) => keep(dir, true));
}

/** The server's reply or the error message, on one line. */
function _reply(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, " ").trim();
}

/** Whether a server time is not older than a local one; LIST times without seconds are compared by the minute. */
/**
 * Writes an empty temp file at the root just before the listing (which then shows its server time; it is removed with
 * the other leftover temp files). Undefined when the server refuses it: times are then taken as they are.
 */
async function _writeClockProbe(pool: RemotePool): Promise<{ temp: string; before: number } | undefined> {
  const temp = tempNameFor("siteloom-clock", randomBytes(4).toString("hex"));
  const before = Date.now();
  const ok = await pool
    .run((fs) => fs.upload(Readable.from([Buffer.alloc(0)]), temp))
    .then(
      () => true,
      () => false,
    );
  return ok ? { temp, before } : undefined;
}

/**
 * The server's clock minus ours (ms), or 0 when they agree within `_CLOCK_SLACK_MS`. The estimate errs high (it
 * counts from before the write and rounds a minute-precise listing time up), so a corrected server time errs old: a
 * file looks changed and is uploaded again rather than skipped.
 */
function _clockOffset(probe: { before: number }, serverTime: number | undefined): number {
  if (serverTime === undefined) return 0;
  const precision = serverTime % 60_000 === 0 ? 60_000 : 1000;
  const offset = serverTime + precision - probe.before;
  return Math.abs(offset) > _CLOCK_SLACK_MS ? offset : 0;
}

/** Clocks closer than this are taken as agreeing (network delay, minute-precise LIST times). */
const _CLOCK_SLACK_MS = 5 * 60_000;

function _notOlder(remote: number, local: number): boolean {
  if (remote >= local) return true;
  return remote % 60_000 === 0 && remote >= Math.floor(local / 60_000) * 60_000;
}

function _byDepth(a: string, b: string): number {
  return a.split("/").length - b.split("/").length || _cmp(a, b);
}

function _cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
