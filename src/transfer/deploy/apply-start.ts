// The start of an apply: the run id, the backup folder and what goes into it, the partial uploads a rerun resumes,
// and the journal's start record.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { SiteloomError } from "../../errors.ts";
import type { ApplyDeployContext } from "./apply.ts";
import { type ApplyRun, RESUME_MIN_BYTES } from "./apply-context.ts";
import {
  type BackupFolder,
  type BackupPlaces,
  backupFolder,
  backupFs,
  backupPath,
  backupPlaces,
  parseBackupDir,
} from "./backups.ts";
import { DENY_ALL_HTACCESS } from "./manifest.ts";
import { type DeployPlan, isTempName, tempNameFor } from "./plan.ts";
import { retryDeployStep } from "./run.ts";

/** Opens the run's journal and returns the state its steps share. */
export async function startApply(plan: DeployPlan, run: ApplyDeployContext): Promise<ApplyRun> {
  const { options, state, journal } = run;
  const { uploads, tempsToRemove } = plan;
  const runId = journal?.header.runId ?? randomBytes(4).toString("hex");
  // the versions this run replaces or deletes are moved aside into one backup folder per run (a rerun reuses it)
  const keepBackups = plan.mode === "purge" ? 0 : options.config.backups;
  const kept: string[] = [];
  if (keepBackups > 0) {
    const { listed } = run;
    const existed = (path: string) => (listed ? listed.files.get(path)?.type === "file" : plan.baseFiles.has(path));
    for (const { file } of uploads) if (existed(file.path)) kept.push(file.path);
    kept.push(...plan.deletes);
  }
  const places = await retryDeployStep(options.config, () =>
    options.pool.run(async (fs) => backupPlaces(run.manifestDir, fs)),
  );
  const backup =
    keepBackups > 0
      ? await _openBackupFolder(run, places, runId, kept.length > 0, journal?.header.backupDir)
      : undefined;
  const backupOf = new Map(backup === undefined ? [] : kept.map((path) => [path, backupPath(backup, path)]));
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
    ...(backup === undefined ? {} : { backupDir: backup.dir }),
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
    places,
    backup,
    backupOf,
    freshBackups: journal === undefined,
    asideTried: new Set(),
  };
}

// --- internal ---

/**
 * This run's backup folder: under the backup root outside remote.root when the connection has one and the folder can
 * be created there (`create`: something will be kept), else beside the manifest. `deploy.backupDir: auto` falls back
 * to the inside with a note; a configured path that cannot be created fails the deploy.
 */
async function _openBackupFolder(
  run: ApplyDeployContext,
  places: BackupPlaces,
  runId: string,
  create: boolean,
  resumed: string | undefined,
): Promise<BackupFolder> {
  const { pool, config, site } = run.options;
  if (resumed !== undefined) {
    // a rerun keeps its backups where the interrupted run began keeping them (rollback and retention look there)
    const folder = parseBackupDir(places, resumed);
    if (folder !== undefined) return folder;
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `deploy.backupDir "${config.backupDir}": the interrupted deploy ${runId} this run resumes keeps its backups in ${resumed}, which that setting no longer names: set deploy.backupDir back to finish it`,
      { site },
    );
  }
  const explicit = config.backupDir !== "auto" && config.backupDir !== "inside";
  if (places.outside === undefined) {
    if (!explicit) return backupFolder(places, false, runId);
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `deploy.backupDir "${config.backupDir}": this connection cannot keep backups outside remote.root`,
      { site },
    );
  }
  const folder = backupFolder(places, true, runId);
  if (!create) return folder;
  try {
    // one batch where the backend can (FTP: the MKDs of the root's missing parents and the run folder pipelined)
    await retryDeployStep(config, () =>
      pool.run(async (fs) => {
        const target = backupFs(fs, folder);
        await (target.mkdirMany ? target.mkdirMany([backupPath(folder)]) : target.mkdir(backupPath(folder)));
        // the backup root may be served (an addon domain's root beside the main one's files): deny-all, as beside the
        // manifest
        if ((await target.stat(_HTACCESS)) === undefined) {
          await target.upload(Readable.from([Buffer.from(DENY_ALL_HTACCESS)]), tempNameFor(_HTACCESS, runId));
          await target.rename(tempNameFor(_HTACCESS, runId), _HTACCESS);
        }
      }),
    );
    return folder;
  } catch (error) {
    const reply = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
    // the backup root overlaps remote.root on the server (RemoteFS.backups refuses it): a configuration error
    const overlaps = error instanceof SiteloomError && error.code === "ERR_CONFIG_INVALID";
    if (explicit && overlaps) throw error;
    if (explicit) {
      throw new SiteloomError(
        "ERR_DEPLOY_FAILED",
        `cannot create the backup folder ${folder.dir} (deploy.backupDir): ${reply}`,
        { site, cause: error },
      );
    }
    run.result.notes.push(
      `backups kept inside remote.root (${places.inside}/, deny-all): ${overlaps ? reply : `cannot create ${places.outside}/ beside it (${reply})`}`,
    );
    return backupFolder(places, false, runId);
  }
}

const _HTACCESS = ".htaccess";
