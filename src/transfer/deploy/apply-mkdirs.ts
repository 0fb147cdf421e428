// The folders a deploy creates before its uploads: the plan's, the manifest folder on a first deploy or after a
// purge, and the backup folder's parents; parents first.
import { forEachLimit } from "../../concurrency.ts";
import { type ApplyRun, progressCounts } from "./apply-context.ts";
import { withRetries } from "./apply-retry.ts";
import { backupFs, backupPath, parseBackupDir } from "./backups.ts";
import type { DeployBackup, Manifest } from "./manifest.ts";
import { byDepth, type DeployPlan, parentsOf } from "./plan.ts";
import { retryDeployStep } from "./run.ts";

/**
 * Every folder the run needs, sorted parents first. Not those the server is known to have: the manifest folder and
 * its parents when the manifest was found there, and the backups folder beside it when a kept backup there saved files
 * (a folder that exists costs a second round trip, to confirm it). Should one be gone after all, the batch fails and
 * the fallback, one `mkdir` (which makes parents) per folder, creates it.
 */
export function dirsToCreate(
  plan: DeployPlan,
  ctx: ApplyRun,
  run: { manifestDir: string; remoteMissing: boolean; base: Manifest | undefined },
): string[] {
  const { manifestDir } = run;
  const needDirs = new Set(plan.mkdirs);
  if (run.remoteMissing || plan.mode === "purge") needDirs.add(manifestDir);
  if (ctx.backup?.outside === false) {
    for (const backup of ctx.backupOf.values()) for (const dir of parentsOf(backup)) needDirs.add(dir);
  }
  if (!run.remoteMissing) for (const dir of [...parentsOf(manifestDir), manifestDir]) needDirs.delete(dir);
  // a backup that saved files has its folder (one that saved none never made it: a first deploy's)
  const savedInside = (b: DeployBackup) =>
    parseBackupDir(ctx.places, b.dir)?.outside === false && Object.keys(b.saved).length > 0;
  if (run.base?.backups?.some(savedInside)) needDirs.delete(ctx.places.inside);
  return [...needDirs].sort(byDepth);
}

/**
 * The folders of a backup folder outside remote.root (itself was made when it was chosen): on its own file system, one
 * batch where the backend can, else one at a time.
 */
export async function createBackupDirs(ctx: ApplyRun): Promise<void> {
  const folder = ctx.backup;
  if (folder?.outside !== true) return;
  const dirs = [...new Set([...ctx.backupOf.values()].flatMap((path) => parentsOf(path)))]
    .filter((dir) => dir !== backupPath(folder))
    .sort(byDepth);
  if (dirs.length === 0) return;
  await retryDeployStep(ctx.options.config, () =>
    ctx.pool.run(async (fs) => {
      const target = backupFs(fs, folder);
      if (target.mkdirMany) await target.mkdirMany(dirs);
      else for (const dir of dirs) await target.mkdir(dir);
    }),
  );
}

/** Creates `dirs` (parents first): one pipelined batch where the backend can, else one depth level at a time. */
export async function createDirs(ctx: ApplyRun, dirs: string[]): Promise<void> {
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
    ctx.progress({ ...progressCounts(ctx), phase: "mkdir", done: dirs.length, total: dirs.length });
    return;
  }
  let done = 0;
  const levels = new Map<number, string[]>();
  for (const dir of dirs) {
    const depth = dir.split("/").length;
    levels.set(depth, [...(levels.get(depth) ?? []), dir]);
  }
  for (const depth of [...levels.keys()].sort((a, b) => a - b)) {
    await forEachLimit(levels.get(depth)!, ctx.pool.size, async (dir) => {
      if (await withRetries(ctx, `${dir}/`, (fs) => fs.mkdir(dir))) ctx.result.stats.dirsCreated++;
      ctx.progress({ ...progressCounts(ctx), phase: "mkdir", done: ++done, total: dirs.length, path: `${dir}/` });
    });
  }
}
