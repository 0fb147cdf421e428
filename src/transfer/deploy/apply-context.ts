// The working state of one `applyDeploy` run, shared by its steps: directories, uploads, deletions, the new manifest.
import type { RemotePool } from "../types.ts";
import type { BackupFolder, BackupPlaces } from "./backups.ts";
import type { Journal } from "./journal.ts";
import type { Phase } from "./plan.ts";
import type { DeployOptions, DeployProgress, DeployResult } from "./run.ts";

/** What the steps of one apply read and fill in. */
export interface ApplyRun {
  options: DeployOptions;
  pool: RemotePool;
  log: Journal;
  runId: string;
  /** Large files whose partial temp file (the value) a rerun may continue. */
  resumable: Map<string, string>;
  /** Paths the interrupted run planned: their first temp names may hold its bytes. */
  earlier: Set<string>;
  /** Each upload's current temp file where it is not the first name, and whether an attempt has written to it. */
  temps: Map<string, { name: string; used: boolean }>;
  /** Temp files left behind by broken attempts: removed at the end, never renamed into place. */
  stale: string[];
  result: DeployResult;
  progress: (event: DeployProgress) => void;
  totalBytes: number;
  random: () => number;
  phaseDone: Map<Phase, number>;
  /** How many backups the new manifest keeps (`deploy.backups`; none after a purge). */
  keepBackups: number;
  /** Where backups may be: the folders a manifest names are accepted only there. */
  places: BackupPlaces;
  /** This run's backup folder (none when no backups are kept). */
  backup: BackupFolder | undefined;
  /** Files this run replaces or deletes → where their previous version is kept (`deploy.backups`; on backupFs). */
  backupOf: Map<string, string>;
  /** Whether the backup folder is this run's own, new one (not a resumed run's, which may hold backups already). */
  freshBackups: boolean;
  /** Backups a put has tried to make: a later attempt asks the server whether the first one made it. */
  asideTried: Set<string>;
}

/** Files smaller than this are uploaded again from the start after a failure rather than resumed. */
export const RESUME_MIN_BYTES = 256 * 1024;

/** The byte counts every progress event carries. */
export function progressCounts(ctx: ApplyRun): { bytes: number; totalBytes: number } {
  return { bytes: ctx.result.stats.bytes, totalBytes: ctx.totalBytes };
}
