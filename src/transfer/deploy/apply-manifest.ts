// The end of an apply: the new manifest (what is on the server now, and the run's backup record), stored on the
// server, then the backup folders past the retention removed.
import { randomUUID } from "node:crypto";
import { setImmediate } from "node:timers/promises";
import { printablePath } from "../paths.ts";
import type { ApplyDeployContext } from "./apply.ts";
import { type ApplyRun, progressCounts } from "./apply-context.ts";
import { dropBackup, parseBackupDir } from "./backups.ts";
import { createManifest, type DeployBackup, type Manifest, type ManifestEntry } from "./manifest.ts";
import type { DeployListing, DeployPlan } from "./plan.ts";
import { type StagedManifest, stageManifest, storeManifest } from "./remote-manifest.ts";

/**
 * Uploads, while the files move, the manifest the run writes when every file and folder of the plan ends in place (see
 * `stageManifest`): `writeNewManifest` then only renames it. None on a first deploy or a purge (the manifest folder is
 * made or emptied first).
 */
export function stageNewManifest(
  ctx: ApplyRun,
  plan: DeployPlan,
  run: ApplyDeployContext,
): Promise<StagedManifest> | undefined {
  if (run.remoteMissing || plan.mode === "purge") return undefined;
  // after what the caller sent this turn has gone out: building the manifest takes a while on a big site
  return setImmediate().then(() => _stage(ctx, plan, run));
}

/**
 * Writes the manifest of what the run left on the server; sets `result.manifestId`. When the run went as planned
 * (no failure), that is the manifest staged at its start (`stageNewManifest`), renamed into place now that every file
 * it names is: it never names a file before it is live.
 */
export async function writeNewManifest(
  ctx: ApplyRun,
  plan: DeployPlan,
  run: ApplyDeployContext,
  removedDirs: Set<string>,
  staging?: Promise<StagedManifest>,
): Promise<void> {
  const { base, manifestDir, result } = run;
  const { pool, site } = run.options;
  const failed = new Set(result.failures.map((f) => f.path));
  const staged = await staging;
  const asPlanned =
    failed.size === 0 &&
    plan.deleteDirs.every((dir) => removedDirs.has(dir)) &&
    staged !== undefined &&
    Date.now() - Date.parse(staged.manifest.finishedAt) < _STAGED_MAX_AGE_MS;
  const manifest = asPlanned ? staged.manifest : _newManifest(ctx, plan, run, failed, removedDirs);
  ctx.progress({ ...progressCounts(ctx), phase: "finish", done: 0, total: 1 });
  await storeManifest({
    pool,
    site,
    runId: ctx.runId,
    manifestDir,
    manifest,
    firstTime: run.remoteMissing,
    state: run.state,
    staged,
  });
  result.manifestId = manifest.id;
  // backups past the retention (or of a history a purge ended): their folders go once the manifest no longer names them
  const kept = new Set((manifest.backups ?? []).map((b) => b.dir));
  // only folders exactly where this configuration keeps backups: a manifest naming others was tampered with
  const dropped = (base?.backups ?? []).filter((b) => !kept.has(b.dir));
  await Promise.all(
    dropped.map((b) => {
      const folder = parseBackupDir(ctx.places, b.dir);
      if (folder !== undefined) return dropBackup(pool, b, folder);
      result.notes.push(
        `left the backup folder "${printablePath(b.dir)}" alone: the manifest named it, but it is not <backup root>/<run id> of deploy.backupDir`,
      );
      return undefined;
    }),
  );
}

// --- internal ---

function _stage(ctx: ApplyRun, plan: DeployPlan, run: ApplyDeployContext): Promise<StagedManifest> {
  const { pool, site } = run.options;
  const manifest = _newManifest(ctx, plan, run, new Set(), new Set(plan.deleteDirs));
  return stageManifest({ pool, site, runId: ctx.runId, manifestDir: run.manifestDir, manifest, firstTime: false });
}

/**
 * A staged manifest older than this is written again: its `finishedAt` (what `--verify` compares server times with,
 * 2 minutes' slack) would be too early for the files of a long run.
 */
const _STAGED_MAX_AGE_MS = 60_000;

/** The manifest of what is on the server once the run is over, given what failed and which folders it removed. */
function _newManifest(
  ctx: ApplyRun,
  plan: DeployPlan,
  run: ApplyDeployContext,
  failed: Set<string>,
  removedDirs: Set<string>,
): Manifest {
  const { base, listed } = run;
  const { site, env } = run.options;
  const { deletes, deleteDirs, baseFiles } = plan;
  // a failed file keeps its previous entry: the rename never happened
  const files: Record<string, ManifestEntry> = Object.fromEntries(baseFiles);
  // every local file that did not fail is now on the server as it is here (uploaded, or found identical)
  for (const file of run.local.files.values()) {
    if (!failed.has(file.path)) files[file.path] = { size: file.size, hash: file.hash, mtime: file.mtime };
  }
  const deletedNow = new Set(deletes.filter((p) => !failed.has(p)));
  for (const path of deletedNow) delete files[path];
  // a directory deleted now is no longer in the new manifest
  const baseDirs = [...plan.baseDirs].filter((dir) => !removedDirs.has(dir));
  const dirs = new Set([...baseDirs, ...run.local.dirs]);
  for (const dir of deleteDirs) if (!failed.has(`${dir}/`)) dirs.delete(dir);
  const id = randomUUID();
  const before = listed
    ? { files: new Set(listed.files.keys()), dirs: new Set(listed.dirs.keys()) }
    : { files: new Set(Object.keys(base?.files ?? {})), dirs: new Set(base?.dirs ?? []) };
  const record: DeployBackup | undefined =
    ctx.backup === undefined
      ? undefined
      : {
          id,
          previousId: base?.id,
          finishedAt: new Date().toISOString(),
          dir: ctx.backup.dir,
          saved: _savedEntries(base, listed, files, ctx.backupOf, failed),
          added: Object.keys(files).filter((p) => !before.files.has(p)),
          addedDirs: [...dirs].filter((d) => !before.dirs.has(d)),
        };
  const backups = [...(record ? [record] : []), ...(base?.backups ?? [])].slice(0, ctx.keepBackups);
  return createManifest({ id, previousId: base?.id, site, env, files, dirs: [...dirs], backups });
}

/**
 * The entries a deploy's backup holds: from the manifest, the files whose content this run changed or removed; from
 * a listing (no manifest), the files it moved aside. A failed file kept its version, so it has none.
 */
function _savedEntries(
  base: Manifest | undefined,
  listed: DeployListing["remote"] | undefined,
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
