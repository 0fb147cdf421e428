import { forEachLimit } from "../../concurrency.ts";
import type { RemotePool } from "../types.ts";
import type { DeployBackup } from "./manifest.ts";
import { parentsOf } from "./plan.ts";

/**
 * Removes a deploy's backup folder once no manifest names it. What its record says the folder holds goes without a
 * listing: the files in parallel over the pool, then their folders deepest first, each with one RMD. Whatever else is
 * left there (files someone put in, a record cut short) is found by the listing of a recursive removal, which then
 * runs. Best effort: a folder that stays is only disk space, and never named again.
 */
export async function dropBackup(pool: RemotePool, backup: DeployBackup): Promise<void> {
  const saved = Object.keys(backup.saved);
  await forEachLimit(saved, pool.size, (path) => pool.run((fs) => fs.remove(`${backup.dir}/${path}`)).catch(() => {}));
  const dirs = new Set<string>();
  for (const path of saved) for (const dir of parentsOf(path)) dirs.add(`${backup.dir}/${dir}`);
  const depth = (dir: string) => dir.split("/").length;
  const byDepth = [...dirs].sort((a, b) => depth(b) - depth(a));
  let emptied = true;
  for (let i = 0; i < byDepth.length; ) {
    // one depth level at a time, siblings in parallel
    const level = byDepth.filter((dir) => depth(dir) === depth(byDepth[i]!));
    i += level.length;
    const removed = await Promise.all(level.map((dir) => _removeEmpty(pool, dir)));
    emptied &&= removed.every(Boolean);
  }
  if (emptied && (await _removeEmpty(pool, backup.dir))) return;
  await pool.run((fs) => fs.removeDir(backup.dir)).catch(() => {});
}

// --- internal ---

/** One RMD where the backend has it; false when the folder stayed (not empty, or no such call). */
function _removeEmpty(pool: RemotePool, dir: string): Promise<boolean> {
  return pool
    .run(async (fs) => {
      if (!fs.removeEmptyDir) return false;
      await fs.removeEmptyDir(dir);
      return true;
    })
    .catch(() => false);
}
