import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { checkWritableFolder, removeConfigFile, updateConfigFile, withConfigFileLock } from "../config/index.ts";
import { isSiteloomError, SiteloomError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import type { ConfigVersion, StateStore } from "../store/index.ts";
import {
  type ConfigFiles,
  checkConfigFileName,
  isConfigFileName,
  readConfigFiles,
  validateConfigFiles,
} from "./config-files.ts";
import { WORKSPACE_FILE } from "./load.ts";

export interface FollowConfigOptions {
  /** Workspace root whose files are kept at the latest recorded version. */
  root: string;
  store: StateStore;
  /** Variables for validating (SITELOOM_* overrides, `${NAME}` references). @default process.env */
  vars?: Record<string, string | undefined>;
  logger?: Logger;
  /**
   * Write the latest version even over files that match no recorded version (an edit made here and not recorded).
   * Workers, which never edit the configuration, take the store's word; a server keeps such an edit, which its file
   * watcher records. @default false
   */
  force?: boolean;
  /** Called after every check (the files are then at the latest version, or kept as they were). */
  onChecked?: () => unknown;
}

/** Keeps a workspace's configuration files at the versions other processes record. */
export interface ConfigFollower {
  /** Checks now (also done on every notification); resolves once the files are synced. */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** How many recent versions an unknown file set is looked for in before it is taken for an unrecorded edit. */
const RECENT_VERSIONS = 50;

/**
 * Configuration pushed to every process: on each version recorded anywhere (the store's `watchConfigVersions`,
 * LISTEN/NOTIFY on PostgreSQL), the files of the latest version are validated like any change (every environment,
 * every site, in a temporary copy) and written here through `updateConfigFile`, under the files' locks. A change
 * this process is itself making holds those locks until it is recorded, so it is never undone. Undefined when the
 * store pushes nothing (SQLite: one machine, one set of files).
 */
export function followConfigVersions(options: FollowConfigOptions): ConfigFollower | undefined {
  const { store, root } = options;
  if (!store.watchConfigVersions) return undefined;
  const logger = options.logger ?? createSilentLogger();
  const vars = options.vars ?? process.env;
  let force = options.force ?? false;
  let closed = false;
  let warned = "";
  let chain: Promise<void> = Promise.resolve();

  const sync = async (): Promise<void> => {
    if (closed) return;
    const latest = await store.latestConfigVersion();
    const files = _files(latest);
    if (!latest || !files) return;
    // files already at the latest version need no lock: a workspace mounted read-only (a container's configuration)
    // follows as long as it is kept at the recorded version by its deployment
    const onDisk = await readConfigFiles(root);
    const extra = _extraFiles(files, onDisk);
    const recentFirst = extra.length > 0 ? await store.listConfigVersions({ limit: RECENT_VERSIONS }) : [];
    const stale = _staleFiles(recentFirst, files, onDisk);
    const differ = Object.keys(files).filter((name) => onDisk[name] !== files[name]);
    if (differ.length === 0 && stale.length === 0) return;
    // only these files are locked and written: a folder no change touches (a site folder of another owner) is not
    // this version's concern. Every folder they need (their own, their locks') is checked, so that one this process
    // cannot write gives the one note, not a failed write on every notification
    const paths = [...differ, ...stale].map((name) => join(root, name));
    const readOnly = await _readOnlyFolder(paths);
    if (readOnly !== undefined) {
      const note = `read-only ${readOnly} @ ${latest.id}`;
      if (warned !== note) {
        logger.warn(
          { version: latest.id, folder: readOnly },
          "configuration: the workspace is read-only here; the recorded version is not written (update the mounted files)",
        );
      }
      warned = note;
      return;
    }
    // a file to delete is locked too: a CLI writing it here holds that lock until its version is recorded
    await withConfigFileLock(paths, async () => {
      // a change recorded meanwhile (by this process too) is the one to compare with
      const current = await store.latestConfigVersion();
      if (current?.id !== latest.id) return void check();
      const disk = await readConfigFiles(root);
      const changed = Object.keys(files).filter((name) => disk[name] !== files[name]);
      // a file not locked here changed meanwhile (a CLI write, a hand edit): looked at again, with its lock
      if (changed.some((name) => !differ.includes(name))) return void check();
      const recent = await store.listConfigVersions({ limit: RECENT_VERSIONS });
      const remove = _staleFiles(recent, files, disk).filter((name) => stale.includes(name));
      if (changed.length === 0 && remove.length === 0) return;
      if (!force && !_recorded(recent, files, disk)) {
        const note = `${changed.join(", ")} @ ${latest.id}`;
        if (warned !== note) {
          logger.warn(
            { files: changed, version: latest.id },
            "configuration: files here differ from every recorded version; keeping them (the server's watcher records them)",
          );
        }
        warned = note;
        return;
      }
      const candidate = Object.fromEntries(Object.entries(disk).filter(([name]) => !remove.includes(name)));
      try {
        await validateConfigFiles({ ...candidate, ...files }, vars);
      } catch (error) {
        logger.warn(
          { version: latest.id, err: isSiteloomError(error) ? error.message : String(error) },
          "configuration: a pushed version does not validate here; the files in force stay",
        );
        return;
      }
      const actor = `config-sync:${latest.actor}`;
      // a site's folder is created and removed under its site.yaml's lock, which lives beside the folder
      // (configLockFile): a `site add` of the same name waits for it, and never finds the folder half gone
      for (const name of changed) {
        await mkdir(dirname(join(root, name)), { recursive: true });
        await updateConfigFile(join(root, name), () => files[name], { locked: true, actor, ref: name });
      }
      const removed: string[] = [];
      for (const name of remove) {
        // the folder goes too once nothing else is in it (its topics, articles, output are never touched)
        const options = { locked: true, actor, ref: name, folder: true };
        if (await removeConfigFile(join(root, name), disk[name]!, options)) removed.push(name);
      }
      logger.info({ version: latest.id, files: changed, removed }, "configuration: pushed version written");
    });
  };

  const check = (): Promise<void> => {
    const run = async () => {
      try {
        await sync();
      } catch (error) {
        logger.warn({ err: error }, "configuration: could not follow the recorded versions (retrying on the next)");
      }
      force = false;
      await options.onChecked?.();
    };
    chain = chain.then(run, run);
    return chain;
  };

  const watch = store.watchConfigVersions(() => void check());
  return {
    check,
    async close() {
      closed = true;
      await watch.close();
      await chain;
    },
  };
}

// --- internal ---

/**
 * The first folder this process cannot write among those the files need (their own and their locks'; a read-only
 * mount, another owner): config/update.ts's rule. Undefined when every one can be written.
 */
async function _readOnlyFolder(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) {
    try {
      await checkWritableFolder(path);
    } catch (error) {
      if (!(isSiteloomError(error) && error.code === "ERR_PERMISSIONS")) throw error;
      return (error.cause as { path?: string } | undefined)?.path ?? dirname(path);
    }
  }
  return undefined;
}

function _files(version: ConfigVersion | undefined): ConfigFiles | undefined {
  const files = (version?.snapshot as { files?: ConfigFiles } | undefined)?.files;
  if (!files || typeof files[WORKSPACE_FILE] !== "string") return undefined;
  // a stored version is checked like any input: only configuration files, only text
  for (const [name, text] of Object.entries(files)) {
    checkConfigFileName(name);
    if (typeof text !== "string") throw new SiteloomError("ERR_USAGE", `configuration version: ${name} is not text`);
  }
  return files;
}

/** Whether the files on disk (those the version names) are one of the recently recorded versions. */
function _recorded(recent: readonly ConfigVersion[], files: ConfigFiles, disk: ConfigFiles): boolean {
  return recent.some((version) => {
    const known = _files(version);
    return known !== undefined && Object.keys(files).every((name) => known[name] === disk[name]);
  });
}

/** The configuration files on disk that the version does not have (site.yaml files: siteloom.yaml is in every one). */
function _extraFiles(files: ConfigFiles, disk: ConfigFiles): string[] {
  return Object.keys(disk).filter((name) => files[name] === undefined);
}

/**
 * The files on disk that a recently recorded version had, as they are here, and the latest one no longer has (a
 * removed site): this folder took them from a version (or recorded them), so they follow the removal. A file edited
 * here since, or never recorded (a site added by hand), is not the store's to delete and stays.
 */
function _staleFiles(recent: readonly ConfigVersion[], files: ConfigFiles, disk: ConfigFiles): string[] {
  return _extraFiles(files, disk).filter((name) => {
    if (!isConfigFileName(name)) return false;
    return recent.some((version) => _files(version)?.[name] === disk[name]);
  });
}
