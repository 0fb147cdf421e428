// A deploy's deletions, after its uploads: the files (their previous version kept aside for a rollback), then the
// emptied folders deepest first, then the temp files no upload renamed into place.
import { forEachLimit } from "../../concurrency.ts";
import { SiteloomError } from "../../errors.ts";
import { isMissingError } from "../pool.ts";
import { type ApplyRun, progressCounts } from "./apply-context.ts";
import { withRetries } from "./apply-retry.ts";
import { backupFs, moveBackup } from "./backups.ts";
import type { DeployPlan } from "./plan.ts";

/** Carries out the plan's deletions; returns the folders it removed. */
export async function applyDeletions(ctx: ApplyRun, plan: DeployPlan): Promise<Set<string>> {
  const { deletes, deleteDirs } = plan;
  const removedDirs = new Set<string>();
  let deleted = 0;
  const deleteTotal = deletes.length + deleteDirs.length;
  await forEachLimit(deletes, ctx.pool.size, async (path) => {
    const backup = ctx.backupOf.get(path);
    await withRetries(
      ctx,
      path,
      // kept aside for a rollback; a copy an earlier attempt of this run kept already is the one to keep (the first
      // attempt into a new backup folder need not ask)
      async (fs) => {
        const folder = ctx.backup;
        if (backup === undefined || folder === undefined) return fs.remove(path);
        const first = ctx.freshBackups && !ctx.asideTried.has(backup);
        ctx.asideTried.add(backup);
        return first || (await backupFs(fs, folder).stat(backup)) === undefined
          ? moveBackup(fs, folder, path, backup)
          : fs.remove(path);
      },
      { missingOk: true },
    );
    await ctx.log.append({ kind: "deleted", path });
    ctx.result.stats.deleted++;
    ctx.progress({
      ...progressCounts(ctx),
      phase: "delete",
      done: ++deleted,
      total: deleteTotal,
      path,
      outcome: "deleted",
    });
  }).catch(() => {});
  for (const dir of deleteDirs) {
    // only when empty: a directory may hold files we never deployed (protected ones, or someone's uploads)
    const ok = await withRetries(ctx, `${dir}/`, async (fs) => {
      // one RMD when it is empty, as it mostly is; else the listing says why not
      if (
        fs.removeEmptyDir &&
        (await fs.removeEmptyDir(dir).then(
          () => true,
          () => false,
        ))
      )
        return;
      // gone already counts as removed; any other failure (a broken connection) is retried, never taken for removed
      const entries = await fs.list(dir).catch((error: unknown) => {
        if (isMissingError(error)) return undefined;
        throw error;
      });
      if (entries === undefined) return;
      if (entries.length === 0) await fs.removeDir(dir);
      else throw new SiteloomError("ERR_TRANSFER_IO", "not removed: the directory still holds other files");
    });
    if (ok) {
      ctx.result.stats.deleted++;
      removedDirs.add(dir);
    }
    ctx.progress({ ...progressCounts(ctx), phase: "delete", done: ++deleted, total: deleteTotal, path: `${dir}/` });
  }
  const temps = [...plan.tempsToRemove, ...ctx.stale];
  await Promise.all(temps.map((tmp) => ctx.pool.run((fs) => fs.remove(tmp)).catch(() => {})));
  return removedDirs;
}
