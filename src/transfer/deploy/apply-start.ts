// The start of an apply: the run id, the backup folder and what goes into it, the partial uploads a rerun resumes,
// and the journal's start record.
import { randomBytes } from "node:crypto";
import type { ApplyDeployContext } from "./apply.ts";
import { type ApplyRun, RESUME_MIN_BYTES } from "./apply-context.ts";
import { BACKUPS_DIR } from "./manifest.ts";
import { type DeployPlan, isTempName, tempNameFor } from "./plan.ts";

/** Opens the run's journal and returns the state its steps share. */
export async function startApply(plan: DeployPlan, run: ApplyDeployContext): Promise<ApplyRun> {
  const { options, state, journal, manifestDir } = run;
  const { uploads, tempsToRemove } = plan;
  const runId = journal?.header.runId ?? randomBytes(4).toString("hex");
  // the versions this run replaces or deletes are moved aside into one backup folder per run (a rerun reuses it)
  const keepBackups = plan.mode === "purge" ? 0 : options.config.backups;
  const backupDir = keepBackups > 0 ? `${manifestDir}/${BACKUPS_DIR}/${runId}` : undefined;
  const backupOf = new Map<string, string>();
  if (backupDir !== undefined) {
    const { listed } = run;
    const existed = (path: string) => (listed ? listed.files.get(path)?.type === "file" : plan.baseFiles.has(path));
    for (const { file } of uploads) if (existed(file.path)) backupOf.set(file.path, `${backupDir}/${file.path}`);
    for (const path of plan.deletes) backupOf.set(path, `${backupDir}/${path}`);
  }
  // A partial temp file is resumed only when it holds the start of this very content (the same hash), so a rerun
  // after the file changed starts again in a new temp file.
  const resumable = new Map<string, string>();
  const earlier = new Set(journal?.header.planned ?? []);
  for (const { file } of uploads) {
    if (file.size < RESUME_MIN_BYTES || journal === undefined) continue;
    if (journal.header.resumable?.[file.path]?.hash !== file.hash) continue;
    resumable.set(file.path, journal.temps.get(file.path) ?? tempNameFor(file.path, runId));
  }
  const log = await state.startJournal({
    kind: "start",
    runId,
    baseId: run.base?.id,
    planned: uploads.map((u) => u.file.path),
    resumable: Object.fromEntries(
      uploads
        // a file the last run planned but this run cannot resume: its first temp name may hold the old content's
        // start, so a rerun must not take it for this content's (it gets a fresh, journalled temp name instead)
        .filter((u) => u.file.size >= RESUME_MIN_BYTES && (resumable.has(u.file.path) || !earlier.has(u.file.path)))
        .map((u) => {
          const temp = resumable.get(u.file.path);
          return [
            u.file.path,
            { hash: u.file.hash, ...(temp && temp !== tempNameFor(u.file.path, runId) ? { temp } : {}) },
          ];
        }),
    ),
    stale: tempsToRemove.filter(isTempName),
  });
  return {
    options,
    pool: options.pool,
    log,
    runId,
    resumable,
    earlier,
    temps: new Map([...(journal?.temps ?? [])].map(([path, name]) => [path, { name, used: true }])),
    stale: [],
    result: run.result,
    progress: run.progress,
    totalBytes: uploads.reduce((n, u) => n + u.file.size, 0),
    random: run.random,
    phaseDone: new Map(),
    keepBackups,
    backupDir,
    backupOf,
    freshBackups: journal === undefined,
    asideTried: new Set(),
  };
}
