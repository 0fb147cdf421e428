import { EventEmitter } from "node:events";
import { existsSync, type FSWatcher, watch } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type SiteConfig, updateConfigFile, withConfigFileLock } from "../config/index.ts";
import { isSiteloomError, SiteloomError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import {
  checkConfigFileName,
  loadAllEnvironments,
  readConfigFiles,
  SITE_FILE,
  sameConfigFiles,
  validateConfigFiles,
  WORKSPACE_FILE,
} from "../workspace/index.ts";
import type { AuditSink } from "./ports.ts";
import { diffFiles } from "./yaml-edit.ts";

/** Where a configuration change came from. */
export type ChangeSource = "initial" | "api" | "cli" | "file" | "rollback";

/** One version of the workspace configuration: the full file set, who changed it, when, and the diff. */
export interface ConfigVersionRecord {
  version: number;
  /** ISO time. */
  at: string;
  /** Token name, `file-watcher`, `cli`... */
  actor: string;
  source: ChangeSource;
  /** One line: what happened ("PATCH sites/shop/site.yaml", "rollback to 3"). */
  message: string;
  /** Unified diff against the previous version, credential literals masked. */
  diff: string;
  /** Relative path → full text of every configuration file. */
  files: Record<string, string>;
}

export type ConfigVersionSummary = Omit<ConfigVersionRecord, "files" | "diff">;

/** Where versions are kept (the state store's config versions table). */
export interface ConfigVersionRepository {
  /** Stores the record and returns its version number (1, 2, ...). */
  append(record: Omit<ConfigVersionRecord, "version">): Promise<number> | number;
  get(version: number): Promise<ConfigVersionRecord | undefined> | ConfigVersionRecord | undefined;
  latest(): Promise<ConfigVersionRecord | undefined> | ConfigVersionRecord | undefined;
  /** Newest first. */
  list(options: {
    limit: number;
    before?: number | undefined;
  }): Promise<ConfigVersionSummary[]> | ConfigVersionSummary[];
}

/** The resolved configuration of one environment. */
export interface ResolvedEnvironment {
  workspace: SiteConfig;
  sites: ReadonlyMap<string, SiteConfig>;
}

/** An immutable, fully validated view of the configuration; swapped as a whole on every accepted change. */
export interface ConfigSnapshot {
  /** Version number in the repository. */
  version: number;
  loadedAt: string;
  /** Relative path → text. */
  files: Readonly<Record<string, string>>;
  /** Known environments and the default one. */
  envs: readonly string[];
  defaultEnv: string;
  sites: readonly string[];
  resolved: ReadonlyMap<string, ResolvedEnvironment>;
}

/** The last change that was refused (an invalid hand edit). */
export interface RejectedChange {
  at: string;
  source: ChangeSource;
  message: string;
  details: string[];
}

export interface ConfigRuntimeOptions {
  /** Workspace root (folder holding siteloom.yaml). */
  root: string;
  versions: ConfigVersionRepository;
  /** Variables used for SITELOOM_* overrides and `${NAME}` references. @default process.env */
  vars?: Record<string, string | undefined>;
  audit?: AuditSink | undefined;
  logger?: Logger;
  /** Watch the files and reload on change. @default true */
  watch?: boolean;
  /** Quiet time after the last file event before reloading. @default 30 */
  debounceMs?: number;
}

export interface ApplyChangeOptions {
  /**
   * Relative path → new text, or an edit that gets the file's text as it is on disk once the files are locked (so a
   * change made meanwhile by another request or process is built upon, not overwritten).
   */
  files: Record<string, string | ((current: string) => string)>;
  actor: string;
  source: ChangeSource;
  message: string;
  /** Refuse with ERR_STORE_CONFLICT unless the configuration is at this version when the files are locked. */
  ifMatch?: number | undefined;
  /** Environment the change concerns. */
  env?: string | undefined;
}

/** What `applyChange` did. */
export interface AppliedChange {
  /** The snapshot in force afterwards. */
  snapshot: ConfigSnapshot;
  /** False when the change equalled what was there (nothing written, no new version). */
  changed: boolean;
  /** Relative path → text before and after, for the files the change named. */
  before: Record<string, string>;
  after: Record<string, string>;
}

export interface ConfigRuntime extends EventEmitter {
  /** The snapshot in force. */
  current(): ConfigSnapshot;
  /** The last refused change since the last accepted one, if any. */
  lastRejected(): RejectedChange | undefined;
  /**
   * Locks the files, catches up with what is on disk, checks `ifMatch`, validates, writes (updateConfigFile), swaps
   * and records a version, all in one critical section. Throws ERR_CONFIG_INVALID / ERR_STORE_CONFLICT and changes
   * nothing.
   */
  applyChange(options: ApplyChangeOptions): Promise<AppliedChange>;
  /** Makes a new version whose files equal those of `version`. */
  rollback(version: number, actor: string): Promise<AppliedChange>;
  /** Reads the files now (what the watcher calls); resolves to the snapshot in force afterwards. */
  reloadFromDisk(): Promise<ConfigSnapshot>;
  close(): Promise<void>;
}

/**
 * Loads the configuration, records it as a version when it differs from the last one stored, and (unless
 * `watch: false`) keeps it current: edits to siteloom.yaml and sites/*\/site.yaml are debounced, validated and
 * swapped in atomically, or rejected with their errors while the previous snapshot stays in force.
 * Emits `reload` ({ snapshot, ms }) and `rejected` (RejectedChange).
 */
export async function createConfigRuntime(options: ConfigRuntimeOptions): Promise<ConfigRuntime> {
  const opts = { watch: true, debounceMs: 30, ...options };
  const logger = opts.logger ?? createSilentLogger();
  const vars = opts.vars ?? process.env;
  const emitter = new EventEmitter();
  let queue: Promise<unknown> = Promise.resolve();
  let rejected: RejectedChange | undefined;
  let closed = false;
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let pendingSince: number | undefined;

  // serialises every change: API writes, rollbacks and watcher reloads never interleave
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  const loaded = await _loadStable(opts.root, vars);
  let snapshot = await _record(loaded, "initial", "filesystem", "configuration at server start");

  async function _record(
    state: LoadedState,
    source: ChangeSource,
    actor: string,
    message: string,
  ): Promise<ConfigSnapshot> {
    const latest = await opts.versions.latest();
    if (latest && sameConfigFiles(latest.files, state.files)) return _snapshot(state, latest.version);
    const diff = diffFiles(latest?.files ?? {}, state.files);
    const version = await opts.versions.append({
      at: new Date().toISOString(),
      actor,
      source: latest ? source : "initial",
      message: latest ? message : "first recorded version",
      diff,
      files: state.files,
    });
    return _snapshot(state, version);
  }

  async function doReload(startedAt: number): Promise<ConfigSnapshot> {
    const files = await readConfigFiles(opts.root);
    if (sameConfigFiles(files, snapshot.files)) return snapshot;
    try {
      const state = await _loadStable(opts.root, vars);
      snapshot = await _record(state, "file", "file-watcher", "edit of the files noticed by the watcher");
      rejected = undefined;
      const ms = performance.now() - startedAt;
      logger.info({ version: snapshot.version, ms: Math.round(ms * 10) / 10 }, "configuration reloaded");
      emitter.emit("reload", { snapshot, ms });
      await opts.audit?.append({
        actor: "file-watcher",
        action: "config.reload",
        outcome: "ok",
        version: snapshot.version,
      });
    } catch (error) {
      const err = _asConfigError(error);
      rejected = {
        at: new Date().toISOString(),
        source: "file",
        message: err.message,
        details: err.details,
      };
      logger.warn(
        { errors: [err.message, ...err.details] },
        "configuration edit rejected; the previous configuration stays in force",
      );
      emitter.emit("rejected", rejected);
      await opts.audit?.append({
        actor: "file-watcher",
        action: "config.reload",
        outcome: "error",
        error: err.code,
      });
    }
    return snapshot;
  }

  function schedule(): void {
    if (closed) return;
    pendingSince ??= performance.now();
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const since = pendingSince ?? performance.now();
      pendingSince = undefined;
      void serial(() => doReload(since)).then(() => syncWatchers());
    }, opts.debounceMs);
  }

  function watchDir(dir: string, filter: (name: string | null) => boolean): void {
    if (watchers.has(dir) || !existsSync(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (filter(name)) schedule();
      });
      watcher.on("error", () => {
        watcher.close();
        watchers.delete(dir);
      });
      watchers.set(dir, watcher);
    } catch (error) {
      logger.warn({ dir, err: (error as Error).message }, "cannot watch directory; hand edits there need a restart");
    }
  }

  function syncWatchers(): void {
    if (closed || !opts.watch) return;
    // watch directories, not files: editors that save by writing a temp file and renaming replace the inode
    watchDir(opts.root, (name) => name === null || name === WORKSPACE_FILE || name === "sites");
    const sitesDir = join(opts.root, "sites");
    // a name starting with "." is no site: a site.yaml's lock (sites/.<name>.site.yaml.lock), made and removed on
    // every write, would reload each time and leave a watcher behind
    watchDir(sitesDir, (name) => name === null || !name.startsWith("."));
    for (const site of snapshot.sites) watchDir(join(sitesDir, site), (name) => name === null || name === SITE_FILE);
    if (existsSync(sitesDir)) {
      void readdir(sitesDir, { withFileTypes: true })
        .then((entries) => {
          for (const e of entries) {
            if (e.isDirectory() && !e.name.startsWith(".")) {
              watchDir(join(sitesDir, e.name), (name) => name === null || name === SITE_FILE);
            }
          }
        })
        .catch(() => undefined);
    }
  }

  syncWatchers();

  const runtime = Object.assign(emitter, {
    current: () => snapshot,
    lastRejected: () => rejected,
    applyChange(change: ApplyChangeOptions): Promise<AppliedChange> {
      const names = Object.keys(change.files);
      for (const name of names) checkConfigFileName(name);
      // one critical section per change: this process's queue, then the files' locks (other processes)
      return serial(() =>
        withConfigFileLock(
          names.map((name) => join(opts.root, name)),
          async () => {
            // another process (a second server, the CLI) may have written since our last look: catch up first
            const disk = await readConfigFiles(opts.root);
            if (!sameConfigFiles(disk, snapshot.files)) await doReload(performance.now());
            if (change.ifMatch !== undefined && change.ifMatch !== snapshot.version) {
              throw new SiteloomError(
                "ERR_STORE_CONFLICT",
                `the configuration is at version ${snapshot.version}, not ${change.ifMatch}; fetch it again and reapply your change`,
              );
            }
            const before: Record<string, string> = {};
            const after: Record<string, string> = {};
            for (const [name, value] of Object.entries(change.files)) {
              before[name] = disk[name] ?? "";
              after[name] = typeof value === "function" ? value(before[name]) : value;
            }
            const changed = names.filter((name) => after[name] !== disk[name]);
            if (changed.length === 0) return { snapshot, changed: false, before, after };
            // validate a copy first: an invalid change never touches the real files
            await validateConfigFiles({ ...disk, ...after }, vars);
            for (const name of changed) {
              // every change here comes through an API route whose audit entry records it (one entry, one alert)
              await updateConfigFile(join(opts.root, name), () => after[name]!, {
                locked: true,
                publish: false,
                actor: change.actor,
                env: change.env,
                ref: name,
              });
            }
            const state = await _loadStable(opts.root, vars);
            snapshot = await _record(state, change.source, change.actor, change.message);
            rejected = undefined;
            emitter.emit("reload", { snapshot, ms: 0 });
            return { snapshot, changed: true, before, after };
          },
        ),
      );
    },
    async rollback(version: number, actor: string): Promise<AppliedChange> {
      const target = await opts.versions.get(version);
      if (!target) {
        throw new SiteloomError("ERR_USAGE", `no configuration version ${version}; see GET /config/versions`);
      }
      return runtime.applyChange({
        files: target.files,
        actor,
        source: "rollback",
        message: `rollback to version ${version}`,
      });
    },
    reloadFromDisk: () => serial(() => doReload(performance.now())),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
      await queue;
    },
  });
  return runtime;
}

// --- internal ---

interface LoadedState {
  files: Record<string, string>;
  envs: string[];
  defaultEnv: string;
  sites: string[];
  resolved: Map<string, ResolvedEnvironment>;
}

function _snapshot(state: LoadedState, version: number): ConfigSnapshot {
  return Object.freeze({
    version,
    loadedAt: new Date().toISOString(),
    files: Object.freeze({ ...state.files }),
    envs: Object.freeze([...state.envs]),
    defaultEnv: state.defaultEnv,
    sites: Object.freeze([...state.sites]),
    resolved: state.resolved,
  });
}

/** Loads every environment and every site; re-reads when the files changed underneath the load. */
async function _loadStable(root: string, vars: Record<string, string | undefined>): Promise<LoadedState> {
  for (let attempt = 0; ; attempt++) {
    const before = await readConfigFiles(root);
    const state = await loadAllEnvironments(root, vars);
    const after = await readConfigFiles(root);
    if (sameConfigFiles(before, after) || attempt >= 3) return { ...state, files: after };
  }
}

function _asConfigError(error: unknown): SiteloomError {
  if (isSiteloomError(error)) return error;
  return new SiteloomError("ERR_CONFIG_INVALID", (error as Error)?.message ?? String(error), { cause: error });
}
