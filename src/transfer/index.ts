export {
  type CreateRemoteOptions,
  type CredentialResolver,
  createRemote,
  createRemoteConnector,
  type OpenRemotePoolOptions,
  openRemotePool,
} from "./connect.ts";
export { type DeployBackup, type Manifest, parseManifest } from "./deploy/manifest.ts";
export { normaliseManifestDir, phaseOf } from "./deploy/plan.ts";
export {
  planRollback,
  type RollbackOptions,
  type RollbackPlan,
  type RollbackResult,
  runRollback,
} from "./deploy/rollback.ts";
export type {
  DeployFailure,
  DeployOptions,
  DeployProgress,
  DeployResult,
  DeployStats,
} from "./deploy/run.ts";
export { runDeploy } from "./deploy/run.ts";
export { type ExportOptions, type ExportProgress, type ExportResult, runExport } from "./export.ts";
export { createFtpRemote, type FtpRemoteOptions, normalizeFingerprint } from "./ftp/remote.ts";
export { hashFile, scanTree } from "./hash.ts";
export { sshFingerprint } from "./known-hosts.ts";
export { createLocalRemote, type LocalRemoteOptions } from "./local.ts";
export {
  filterListing,
  joinLocal,
  joinRemote,
  localNameProblem,
  normalizeRemotePath,
  printablePath,
  splitRemotePath,
  symlinkStaysInside,
  type UnsafeEntry,
  type UnsafeEntryHandler,
  unsafeNameReason,
} from "./paths.ts";
export { createRemotePool, isConnectionError, type RemotePoolOptions } from "./pool.ts";
export { createSftpRemote, type SftpRemoteOptions } from "./sftp.ts";
export { type OpenSitePoolOptions, openSitePool, type SitePool } from "./site-pool.ts";
export type { RemoteEntry, RemoteFS, RemotePool } from "./types.ts";
