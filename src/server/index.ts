export { createAuditLogSink } from "./audit-sink.ts";
export { type ErrorBody, toErrorResponse } from "./plugins/error-handler.ts";
export type { AuditFilter, AuditRecord, AuditSink, RunStarter, ServerAuditEntry } from "./ports.ts";
export {
  type AppliedChange,
  type ApplyChangeOptions,
  type ChangeSource,
  type ConfigRuntime,
  type ConfigRuntimeOptions,
  type ConfigSnapshot,
  type ConfigVersionRecord,
  type ConfigVersionRepository,
  type ConfigVersionSummary,
  createConfigRuntime,
  type RejectedChange,
  type ResolvedEnvironment,
} from "./runtime.ts";
export { type BuildServerOptions, buildServer, SERVER_VERSION } from "./server.ts";
export { createStoreVersionRepository } from "./versions.ts";
