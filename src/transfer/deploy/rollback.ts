import { createHash, randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { forEachLimit } from "../../concurrency.ts";
import { SiteloomError } from "../../errors.ts";
import { isMissingError } from "../pool.ts";
import {
  type BackupFolder,
  type BackupPlaces,
  backupFs,
  backupPath,
  backupPlaces,
  checkBackupDir,
  dropBackup,
} from "./backups.ts";
import {
  BACKUPS_DIR,
  createManifest,
  type DeployBackup,
  MANIFEST_FILE,
  type Manifest,
  type ManifestEntry,
  parseManifest,
} from "./manifest.ts";
import { normaliseManifestDir, parentsOf, tempNameFor } from "./plan.ts";
import { storeManifest } from "./remote-manifest.ts";
import { type DeployOptions, retryDeployStep, withDeployLock } from "./run.ts";

export interface RollbackOptions
  extends Pick<DeployOptions, "site" | "env" | "stateDir" | "store" | "lockOwner" | "pool" | "config" | "dryRun"> {
  /**
   * The deploy to return to: the id of its manifest (or its first characters) or its run id (the backup folder's
   * name). @default the state before the last deploy
   */
  to?: string | undefined;
}

/** What a rollback does: a plain value, computed before anything changes. */
export interface RollbackPlan {
  /** Id of the manifest on the server now. */
  from: string;
  /** Id of the manifest whose state is restored (undefined: the state before the first deploy kept in backups). */
  to: string | undefined;
  /** The deploys undone, newest first (their manifest ids). */
  undo: string[];
  /** Files put back from a backup folder: `path` gets the bytes of `from`. */
  restore: { path: string; from: string; size: number }[];
  /** Files the undone deploys added: removed. */
  remove: string[];
  /** Folders the undone deploys created: removed when empty, deepest first. */
  removeDirs: string[];
}

export interface RollbackResult {
  kind: "rollback";
  site: string;
  env: string;
  dryRun: boolean;
  plan: RollbackPlan;
  stats: { restored: number; removed: number; failed: number; durationMs: number };
  failures: { path: string; message: string }[];
  /** Id of the manifest on the server afterwards. */
  manifestId: string;
}

/**
 * Plans the return to the state after deploy `to` (default: before the last deploy) from the backups a manifest
 * lists: each undone deploy, newest first, gives back the files it replaced or deleted and takes away what it added.
 * Pure: tests drive it from values.
 */
export function planRollback(
  manifest: Manifest,
  where: string | BackupPlaces,
  to?: string,
): RollbackPlan & { next: Manifest; sources: Map<string, { folder: BackupFolder; path: string }> } {
  // a manifest folder alone: backups beside it only
  const places = typeof where === "string" ? { inside: `${where}/${BACKUPS_DIR}`, outside: undefined } : where;
  const backups = manifest.backups ?? [];
  if (backups.length === 0) {
    throw new SiteloomError(
      "ERR_USAGE",
      `nothing to roll back for ${manifest.site}: the server keeps no backup of its deploys (deploy.backups is 0, or no deploy changed anything since backups were kept)`,
      { site: manifest.site },
    );
  }
  const count = _undoCount(backups, to, manifest.site);
  const undo = backups.slice(0, count);
  // the manifest is untrusted: the folders read from are exactly where this configuration keeps backups
  const folders = undo.map((backup) => checkBackupDir(places, backup.dir, manifest.site));
  const sources = new Map<string, { folder: BackupFolder; path: string }>();
  const files = new Map<string, { entry: ManifestEntry; from?: string }>(
    Object.entries(manifest.files).map(([path, entry]) => [path, { entry }]),
  );
  const dirs = new Set(manifest.dirs);
  for (const [i, backup] of undo.entries()) {
    for (const path of backup.added) files.delete(path);
    for (const [path, entry] of Object.entries(backup.saved)) {
      files.set(path, { entry, from: `${backup.dir}/${path}` });
      sources.set(path, { folder: folders[i]!, path: backupPath(folders[i]!, path) });
    }
    for (const dir of backup.addedDirs) dirs.delete(dir);
  }
  for (const path of files.keys()) for (const dir of parentsOf(path)) dirs.add(dir);
  const restore = [...files]
    .filter(([, f]) => f.from !== undefined)
    .map(([path, f]) => ({ path, from: f.from!, size: f.entry.size }))
    .sort((a, b) => _cmp(a.path, b.path));
  const remove = Object.keys(manifest.files)
    .filter((path) => !files.has(path))
    .sort(_cmp);
  const removeDirs = manifest.dirs
    .filter((dir) => !dirs.has(dir))
    .sort((a, b) => b.split("/").length - a.split("/").length || _cmp(a, b));
  const target = undo.at(-1)!.previousId;
  const next = createManifest({
    previousId: manifest.id,
    site: manifest.site,
    env: manifest.env,
    files: Object.fromEntries([...files].map(([path, f]) => [path, f.entry])),
    dirs: [...dirs],
    backups: backups.slice(count),
  });
  return { from: manifest.id, to: target, undo: undo.map((b) => b.id), restore, remove, removeDirs, next, sources };
}

/**
 * `siteloom deploy <site> --rollback [--to <run>]`: puts back the versions the last deploys replaced or deleted
 * (copied from the backup folder to a temp name and renamed into place, like a deploy), removes the files they added,
 * then writes the manifest of the restored state. Backups stay until that manifest is written, so a rollback killed
 * at any point is rerun from the start and ends the same.
 */
export async function runRollback(options: RollbackOptions): Promise<RollbackResult> {
  const started = performance.now();
  const { site, env, pool, config } = options;
  const manifestDir = normaliseManifestDir(config.manifestPath);
  if (manifestDir === undefined) {
    throw new SiteloomError("ERR_CONFIG_INVALID", `deploy.manifestPath "${config.manifestPath}" must be a folder`, {
      site,
    });
  }
  return withDeployLock(options, async (state) => {
    const manifest = await _readManifest(options, `${manifestDir}/${MANIFEST_FILE}`);
    const places = await retryDeployStep(config, () => pool.run(async (fs) => backupPlaces(manifestDir, fs)));
    const { next, sources, ...plan } = planRollback(manifest, places, options.to);
    const result: RollbackResult = {
      kind: "rollback",
      site,
      env,
      dryRun: options.dryRun === true,
      plan,
      stats: { restored: 0, removed: 0, failed: 0, durationMs: 0 },
      failures: [],
      manifestId: manifest.id,
    };
    const finish = () => {
      result.stats.durationMs = Math.round(performance.now() - started);
      return result;
    };
    if (options.dryRun) return finish();

    // The same temp names on a rerun (they come from the manifest being undone): a killed run's leftovers are
    // overwritten and renamed, never left behind.
    const runId = createHash("sha256").update(`rollback:${manifest.id}`).digest("hex").slice(0, 8);
    const retry = <T>(fn: () => Promise<T>) => retryDeployStep(config, fn);
    const fail = (path: string, error: unknown) => {
      result.failures.push({ path, message: _reply(error) });
      result.stats.failed++;
    };
    const parents = [...new Set(plan.restore.flatMap((r) => parentsOf(r.path)))].sort(
      (a, b) => a.split("/").length - b.split("/").length,
    );
    if (parents.length > 0) {
      await retry(() => pool.run(async (fs) => (fs.mkdirMany ? fs.mkdirMany(parents) : _mkdirEach(fs, parents))));
    }
    await forEachLimit(plan.restore, pool.size, async ({ path, from }) => {
      const copy = join(tmpdir(), `siteloom-rollback-${process.pid}-${randomBytes(6).toString("hex")}`);
      try {
        const source = sources.get(path)!;
        await retry(() => pool.run((fs) => backupFs(fs, source.folder).download(source.path, copy)));
        const temp = tempNameFor(path, runId);
        await retry(() =>
          pool.run(async (fs) => {
            await fs.upload(copy, temp);
            await fs.rename(temp, path);
          }),
        );
        result.stats.restored++;
      } catch (error) {
        fail(path, isMissingError(error) ? new Error(`its saved copy ${from} is missing on the server`) : error);
      } finally {
        await rm(copy, { force: true });
      }
    });
    await forEachLimit(plan.remove, pool.size, async (path) => {
      try {
        await retry(() => pool.run((fs) => fs.remove(path))).catch((error: unknown) => {
          if (!isMissingError(error)) throw error;
        });
        result.stats.removed++;
      } catch (error) {
        fail(path, error);
      }
    });
    for (const dir of plan.removeDirs) {
      // only when empty: someone's own files in it stay, and so does the folder
      await retry(() =>
        pool.run(async (fs) => {
          const entries = await fs.list(dir).catch(() => undefined);
          if (entries !== undefined && entries.length === 0) await fs.removeDir(dir);
        }),
      ).catch(() => {});
    }
    if (result.failures.length > 0) {
      throw new SiteloomError(
        "ERR_DEPLOY_FAILED",
        `rollback of ${site}: ${result.failures.length} file(s) could not be restored; nothing is recorded yet, rerun \`siteloom deploy ${site} --rollback${options.to ? ` --to ${options.to}` : ""}\``,
        { site, details: result.failures.map((f) => `  ${f.path}: ${f.message}`) },
      );
    }
    await storeManifest({ pool, site, runId, manifestDir, manifest: next, firstTime: false, state });
    result.manifestId = next.id;
    // the undone deploys' backups are spent: their folders go once the new manifest no longer names them
    const spent = (manifest.backups ?? []).filter((b) => plan.undo.includes(b.id));
    await Promise.all(spent.map((b) => dropBackup(pool, b, checkBackupDir(places, b.dir, site))));
    return finish();
  });
}

// --- internal ---

/** How many of the newest backups to undo to reach `to`. */
function _undoCount(backups: DeployBackup[], to: string | undefined, site: string): number {
  if (to === undefined) return 1;
  const want = to.trim().toLowerCase();
  const matches = (id: string | undefined, dir?: string) =>
    (id !== undefined && want.length >= 4 && id.toLowerCase().startsWith(want)) ||
    (dir !== undefined && dir.split("/").at(-1) === want);
  // the state after deploy i is undone by undoing the deploys newer than it
  const index = backups.findIndex((b) => matches(b.id, b.dir));
  if (index === 0) {
    throw new SiteloomError("ERR_USAGE", `${to} is the deploy on the server now: nothing to roll back`, { site });
  }
  if (index > 0) return index;
  // the state before the oldest deploy kept
  const oldest = backups.at(-1)!;
  if (matches(oldest.previousId)) return backups.length;
  const known = backups.map((b) => `${b.id.slice(0, 8)} (run ${b.dir.split("/").at(-1)}, ${b.finishedAt})`);
  throw new SiteloomError(
    "ERR_USAGE",
    `no deploy "${to}" among the ones kept for rollback (${known.join("; ")}); pass one of these ids or run ids`,
    { site },
  );
}

async function _readManifest(options: RollbackOptions, file: string): Promise<Manifest> {
  const data = await retryDeployStep(options.config, () => options.pool.run((fs) => fs.read(file)));
  if (data === undefined) {
    throw new SiteloomError(
      "ERR_USAGE",
      `nothing to roll back for ${options.site}: no deploy manifest at ${file} on the server`,
      { site: options.site },
    );
  }
  const parsed = parseManifest(data, { site: options.site });
  if (!parsed.ok) {
    throw new SiteloomError(
      "ERR_DEPLOY_FAILED",
      `cannot roll back ${options.site}: the deploy manifest on the server cannot be trusted (${parsed.reason})`,
      { site: options.site },
    );
  }
  return parsed.manifest;
}

async function _mkdirEach(fs: { mkdir(path: string): Promise<void> }, dirs: string[]): Promise<void> {
  for (const dir of dirs) await fs.mkdir(dir);
}

function _reply(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
}

function _cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
