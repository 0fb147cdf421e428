export type {
  DeployFailure,
  DeployOptions,
  DeployProgress,
  DeployResult,
  DeployStats,
} from "./deploy/run.ts";
export { runDeploy } from "./deploy/run.ts";
export { type ExportOptions, type ExportProgress, type ExportResult, runExport } from "./export.ts";
export { hashFile, scanTree } from "./hash.ts";
export { createLazyPool, type LazyPoolOptions } from "./lazy-pool.ts";
export { createLocalRemote, type LocalRemoteOptions } from "./local.ts";
export type { RemoteEntry, RemoteFS, RemotePool } from "./types.ts";
