import { randomBytes } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { forEachLimit } from "../../concurrency.ts";
import { ExportSchema, type SiteConfig } from "../../config/index.ts";
import { SiteloomError } from "../../errors.ts";
import { runWithRetry } from "../../retry.ts";
import { acquireLock, type HeldLock, newRunId, openStateStore, type StateStore } from "../../store/index.ts";
import { hashFile, type LocalFile, scanTree } from "../hash.ts";
import { createMissingRoot } from "../missing-root.ts";
import { printablePath } from "../paths.ts";
import { isConnectionError } from "../pool.ts";
import type { RemotePool } from "../types.ts";
import { type RemoteTree, type WalkRemoteOptions, walkRemote } from "../walk.ts";
import { applyDeploy, finishResult } from "./apply.ts";
import { deployBackoff } from "./apply-retry.ts";
import { MANIFEST_FILE, type Manifest } from "./manifest.ts";
import {
  byDepth,
  createMatcher,
  type DeployListing,
  isTempName,
  normaliseManifestDir,
  type Phase,
  planDeploy,
  tempNameFor,
  underKept,
} from "./plan.ts";
import { readRemoteManifest } from "./remote-manifest.ts";
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
 * Retries a step (manifest read, listings, a rollback's copies) on connection-level trouble with the deploy's backoff
 * (`deploy.retries`, `retryBaseMs`, `retryMaxMs`); a refused login, host key or unsafe path is not retried.
 */
export function retryDeployStep<T>(
  config: DeployOptions["config"],
  fn: () => Promise<T>,
  random: () => number = Math.random,
): Promise<T> {
  return runWithRetry(fn, {
    ...deployBackoff(config, random),
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
      return readRemoteManifest(fs, manifestFile, state, site, trusted);
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

  // 4. purge: empty the root (but the manifest folder and protected paths), then everything is uploaded
  let purged: string[] = [];
  if (options.purge) {
    progress({ phase: "listing", done: 0, total: 0, bytes: 0, totalBytes: 0 });
    const remote = await again(() => _walkWhole(pool, site, { skipDir: (p) => keepRemote(p, true) }));
    const files = [...remote.files.keys()].filter((p) => !keepRemote(p) && !underKept(p, keepRemote));
    const dirs = [...remote.dirs.keys()].filter((p) => !keepRemote(p, true) && !underKept(p, keepRemote));
    purged = [...files, ...dirs.map((d) => `${d}/`)];
    if (!options.dryRun && purged.length > 0) {
      const go = options.confirmPurge ? await options.confirmPurge(purged) : false;
      if (!go) throw new SiteloomError("ERR_INTERRUPTED", "purge cancelled: nothing was deleted", { site });
      await _purge(pool, files, dirs, remote.dirs.size, keepRemote, progress);
    }
  }

  // 5. the plan: what the server holds, where the manifest cannot say (listing mode), is listed first
  let listing: DeployListing | undefined;
  // no manifest: remote.root may not exist yet (a first deploy into a new folder), created here (missing-root.ts)
  const rootMissing =
    remoteMissing && (await createMissingRoot(pool, { site, dryRun: options.dryRun === true, notes, retry: again }));
  if (rootMissing && options.dryRun) listing = { remote: { files: new Map(), dirs: new Map() }, offset: 0 };
  else if (mode === "listing" && !options.purge) {
    progress({ phase: "listing", done: 0, total: 0, bytes: 0, totalBytes: 0 });
    // server times are compared with ours: learn how far the server's clock is from ours first
    const clock = options.dryRun ? undefined : await _writeClockProbe(pool);
    const remote = await again(() =>
      _walkWhole(pool, site, {
        skipDir: (p) => p === manifestDir,
        onDir: () => progress({ phase: "listing", done: 0, total: 0, bytes: 0, totalBytes: 0 }),
      }),
    );
    const offset = clock === undefined ? 0 : _clockOffset(clock, remote.files.get(clock.temp)?.mtime);
    listing = { remote, offset };
  }
  const local = { files: tree.files, dirs: localDirs };
  const planOptions = {
    keepRemote,
    delete: options.delete === true,
    verify: options.verify === true,
    purge: options.purge === true,
    lastDeployed: localManifest,
  };
  let plan = planDeploy(local, base, journal, listing, planOptions);
  if (listing !== undefined && plan.toHash.length > 0) {
    // --verify: what looks different is downloaded and hashed, then planned again knowing
    const differing = new Set(await _hashRemote(pool, plan.toHash));
    const hashed = new Map(plan.toHash.map((file) => [file.path, differing.has(file)]));
    plan = planDeploy(local, base, journal, { ...listing, hashed }, planOptions);
  }
  notes.push(...plan.notes);
  const result: DeployResult = {
    site,
    env,
    dryRun: options.dryRun === true,
    mode: plan.mode,
    notes,
    plan: {
      mkdir: plan.mkdirs,
      upload: plan.uploads.map((u) => ({ path: u.file.path, size: u.file.size, phase: u.phase, reason: u.reason })),
      delete: [...plan.deletes, ...plan.deleteDirs.map((d) => `${d}/`)],
      purge: purged,
    },
    resumed: plan.resumed,
    stats: {
      uploaded: 0,
      skipped: tree.files.size - plan.uploads.length,
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

  const nothingToDo =
    plan.uploads.length === 0 && plan.deletes.length === 0 && plan.deleteDirs.length === 0 && plan.mkdirs.length === 0;
  if (options.dryRun) return finishResult(result, started, pool);
  if (nothingToDo && plan.mode === "manifest" && base !== undefined && plan.tempsToRemove.length === 0) {
    // a no-op deploy: keep the local copy in step (another machine may have deployed) and stop
    if (localManifest?.id !== base.id) await state.saveManifest(base);
    if (journal !== undefined) await state.removeJournal();
    return finishResult(result, started, pool);
  }

  // 6. and 7. do it, journalled, and write the new manifest
  return applyDeploy(plan, {
    options,
    state,
    result,
    local,
    base,
    listed: listing?.remote,
    journal,
    manifestDir,
    remoteMissing,
    progress,
    random,
    started,
  });
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
  for (const dir of [...dirs].sort((a, b) => byDepth(b, a))) {
    const entries = await pool.run((fs) => fs.list(dir));
    if (entries.length === 0) await pool.run((fs) => fs.removeDir(dir));
    else if (entries.every((e) => !keep(`${dir}/${e.name}`, e.type === "dir")))
      await pool.run((fs) => fs.removeDir(dir));
    progress({ phase: "purge", done: ++done, total, bytes: 0, totalBytes: 0, path: `${dir}/`, outcome: "deleted" });
  }
}

/** Downloads and hashes remote files; returns the local files whose remote content differs. */
async function _hashRemote(pool: RemotePool, files: LocalFile[]): Promise<LocalFile[]> {
  const differing: LocalFile[] = [];
  await forEachLimit(files, pool.size, async (file) => {
    const copy = join(tmpdir(), `siteloom-verify-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await pool.run((fs) => fs.download(file.path, copy));
      if ((await hashFile(copy)) !== file.hash) differing.push(file);
    } catch {
      differing.push(file);
    } finally {
      await rm(copy, { force: true });
    }
  });
  return differing;
}

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
