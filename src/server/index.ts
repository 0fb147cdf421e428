export type { ErrorBody } from "./plugins/error-handler.ts";
export type { AuditFilter, AuditRecord, AuditSink, RunStarter, ServerAuditEntry } from "./ports.ts";
export { type PushConfigOptions, type PushedConfig, pushConfigFiles } from "./push-config.ts";
export type {
  AppliedChange,
  ApplyChangeOptions,
  ChangeSource,
  ConfigRuntime,
  ConfigRuntimeOptions,
  ConfigSnapshot,
  ConfigVersionRecord,
  ConfigVersionRepository,
  ConfigVersionSummary,
  RejectedChange,
  ResolvedEnvironment,
} from "./runtime.ts";
export { type BuildServerOptions, buildServer } from "./server.ts";
