import { forEachLimit } from "../../concurrency.ts";
import { SiteloomError } from "../../errors.ts";
import { printablePath } from "../paths.ts";
import type { RemoteFS, RemotePool } from "../types.ts";
import { BACKUPS_DIR, type DeployBackup } from "./manifest.ts";
import { parentsOf } from "./plan.ts";

/**
 * The backup roots a deploy of this configuration writes and reads: the deny-all folder beside the manifest, and the
 * backup root outside remote.root (`RemoteFS.backups`) when the backend has one.
 */
export interface BackupPlaces {
  /** `<manifestDir>/backups`, relative to remote.root. */
  inside: string;
  /** The backup root outside remote.root, as configured (`BackupView.root`). */
  outside: string | undefined;
}

/** One deploy's backup folder: `<backup root>/<run id>`, in one of the places. */
export interface BackupFolder {
  outside: boolean;
  runId: string;
  /** How the manifest names it. */
  dir: string;
}

/** The places of a configuration, read from a connection of the pool (its backup root, if any). */
export function backupPlaces(manifestDir: string, fs: RemoteFS): BackupPlaces {
  return { inside: `${manifestDir}/${BACKUPS_DIR}`, outside: fs.backups?.root };
}

/** A run's backup folder in one of the places. */
export function backupFolder(places: BackupPlaces, outside: boolean, runId: string): BackupFolder {
  return { outside, runId, dir: `${outside ? places.outside : places.inside}/${runId}` };
}

/**
 * The folder a manifest names (untrusted input), when it is exactly `<backup root>/<run id>` of one of the places;
 * else undefined.
 */
export function parseBackupDir(places: BackupPlaces, dir: string): BackupFolder | undefined {
  const runId = dir.split("/").at(-1) ?? "";
  if (!_RUN_ID.test(runId)) return undefined;
  if (dir === `${places.inside}/${runId}`) return backupFolder(places, false, runId);
  if (places.outside !== undefined && dir === `${places.outside}/${runId}`) return backupFolder(places, true, runId);
  return undefined;
}

/** Like parseBackupDir, but a folder outside the places is refused with a clear error (a tampered manifest). */
export function checkBackupDir(places: BackupPlaces, dir: string, site: string): BackupFolder {
  const folder = parseBackupDir(places, dir);
  if (folder !== undefined) return folder;
  const roots = [places.inside, ...(places.outside === undefined ? [] : [places.outside])];
  throw new SiteloomError(
    "ERR_DEPLOY_FAILED",
    `the deploy manifest on the server names the backup folder "${printablePath(dir)}", which is not <backup root>/<run id> of ${roots.map((r) => `"${r}"`).join(" or ")} (deploy.backupDir): refusing to use it; the manifest was edited, or deploy.backupDir changed since`,
    { site },
  );
}

/** The file system a backup folder is on: the site's, or its backup root's. */
export function backupFs(fs: RemoteFS, folder: BackupFolder): RemoteFS {
  if (!folder.outside) return fs;
  if (fs.backups === undefined) {
    throw new SiteloomError(
      "ERR_TRANSFER_IO",
      `the backup folder ${folder.dir} is outside remote.root, which this connection cannot reach`,
    );
  }
  return fs.backups.fs;
}

/** A path in a backup folder, on its file system (backupFs). */
export function backupPath(folder: BackupFolder, path = ""): string {
  const base = folder.outside ? folder.runId : folder.dir;
  return path === "" ? base : `${base}/${path}`;
}

/** Moves a live file (relative to remote.root) into a backup folder, or back (`back`). */
export async function moveBackup(
  fs: RemoteFS,
  folder: BackupFolder,
  live: string,
  kept: string,
  back = false,
): Promise<void> {
  if (!folder.outside) return back ? fs.rename(kept, live) : fs.rename(live, kept);
  backupFs(fs, folder); // refuses a connection without a backup root
  const view = fs.backups!;
  return back ? view.moveOut(kept, live) : view.moveIn(live, kept);
}

/**
 * Removes a deploy's backup folder once no manifest names it. What its record says the folder holds goes without a
 * listing: the files in parallel over the pool, then their folders deepest first, each with one RMD. Whatever else is
 * left there (files someone put in, a record cut short) is found by the listing of a recursive removal, which then
 * runs. Best effort: a folder that stays is only disk space, and never named again.
 */
export async function dropBackup(pool: RemotePool, backup: DeployBackup, folder: BackupFolder): Promise<void> {
  const on = <T>(fn: (fs: RemoteFS) => Promise<T>) => pool.run((fs) => fn(backupFs(fs, folder)));
  const saved = Object.keys(backup.saved);
  await forEachLimit(saved, pool.size, (path) => on((fs) => fs.remove(backupPath(folder, path))).catch(() => {}));
  const dirs = new Set<string>();
  for (const path of saved) for (const dir of parentsOf(path)) dirs.add(backupPath(folder, dir));
  const depth = (dir: string) => dir.split("/").length;
  const byDepth = [...dirs].sort((a, b) => depth(b) - depth(a));
  let emptied = true;
  for (let i = 0; i < byDepth.length; ) {
    // one depth level at a time, siblings in parallel
    const level = byDepth.filter((dir) => depth(dir) === depth(byDepth[i]!));
    i += level.length;
    const removed = await Promise.all(level.map((dir) => _removeEmpty(on, dir)));
    emptied &&= removed.every(Boolean);
  }
  const top = backupPath(folder);
  if (emptied && (await _removeEmpty(on, top))) return;
  await on((fs) => fs.removeDir(top)).catch(() => {});
}

// --- internal ---

/** One RMD where the backend has it; false when the folder stayed (not empty, or no such call). */
function _removeEmpty(on: (fn: (fs: RemoteFS) => Promise<boolean>) => Promise<boolean>, dir: string): Promise<boolean> {
  return on(async (fs) => {
    if (!fs.removeEmptyDir) return false;
    await fs.removeEmptyDir(dir);
    return true;
  }).catch(() => false);
}

/** A run id: the name of a backup folder. */
const _RUN_ID = /^[0-9a-f]{8}$/;
