// Carries out a deploy plan (plan.ts `planDeploy`): directories, then the uploads phase by phase (each file to a temp
// name, checked, renamed into place; the previous version moved aside into the run's backup folder), deletions, and
// the new manifest. Journalled: a killed run is resumed by the next one. Each step is its own apply-*.ts file.
import type { RemotePool } from "../types.ts";
import { applyDeletions } from "./apply-deletions.ts";
import { stageNewManifest, writeNewManifest } from "./apply-manifest.ts";
import { createBackupDirs, createDirs, dirsToCreate } from "./apply-mkdirs.ts";
import { uploadPhase } from "./apply-phase.ts";
import { startApply } from "./apply-start.ts";
import type { JournalState } from "./journal.ts";
import type { Manifest } from "./manifest.ts";
import { type DeployListing, type DeployLocalTree, type DeployPlan, PHASES } from "./plan.ts";
import type { StagedManifest } from "./remote-manifest.ts";
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
  const { result } = run;
  const ctx = await startApply(plan, run);
  let removedDirs: Set<string>;
  let staging: Promise<StagedManifest> | undefined;
  const uploadStart = performance.now();
  try {
    // the site's folders and the backup folder's (outside remote.root: another file system) in parallel
    const dirs = Promise.all([createDirs(ctx, dirsToCreate(plan, ctx, run)), createBackupDirs(ctx)]);
    // the manifest of the run as planned goes up beside the files (renamed into place at the end), made while the
    // folders' round trip is in flight
    staging = stageNewManifest(ctx, plan, run);
    await dirs;
    for (const phase of PHASES) {
      await uploadPhase(
        ctx,
        plan.uploads.filter((u) => u.phase === phase).map((u) => u.file),
        phase,
      );
    }
    const uploadMs = performance.now() - uploadStart;
    result.stats.throughput = uploadMs > 0 ? Math.round((result.stats.bytes * 1000) / uploadMs) : 0;
    removedDirs = await applyDeletions(ctx, plan);
  } finally {
    await ctx.log.close();
  }
  await writeNewManifest(ctx, plan, run, removedDirs, staging);
  // with failures the journal stays: the next run reuses its temp names and resumes the partial uploads
  if (result.failures.length === 0) await run.state.removeJournal();
  return finishResult(result, run.started, ctx.pool);
}

/** Fills in the run's duration and connection count. */
export function finishResult(result: DeployResult, started: number, pool: RemotePool): DeployResult {
  result.stats.durationMs = Math.round(performance.now() - started);
  result.stats.connections = pool.connectionsOpened;
  return result;
}
