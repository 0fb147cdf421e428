// The public library API: every export is named here. Each domain's main entry points, nothing internal; domains that
// need heavy libraries (SQLite, fastify, ssh2, the ai SDK) load them when this module is imported, not when a CLI
// command starts (the CLI imports the domains lazily).
export type { AuditEntry, ReadAuditOptions, VerifyResult } from "./audit/index.ts";
export { readAuditLog, verifyAuditLog } from "./audit/index.ts";
export type {
  EnvReference,
  Reference,
  SecretReference,
  SecretResolver,
  SiteConfig,
  WorkspaceConfig,
} from "./config/index.ts";
export {
  type ConfigProblem,
  formatProblem,
  parseReference,
  parseSecretReference,
  resolveValue,
  SiteConfigSchema,
} from "./config/index.ts";
export type { Article, CostSummary, GenerateOptions, GenerateReport, LedgerEntry } from "./content/index.ts";
export { ArticleSchema, createLedger, runGenerate, summarizeCosts } from "./content/index.ts";
export type { EnrichReport, RunEnrichOptions } from "./enrich/index.ts";
export { runEnrich } from "./enrich/index.ts";
export { type ErrorCode, EXIT_CODES, exitCodeFor, SiteloomError } from "./errors.ts";
export { createLogger, type Logger } from "./log/index.ts";
export type { PipelineEvent, PipelineStep, RunPipelineOptions, RunReport } from "./pipeline/index.ts";
export { BUILTIN_STEPS, defineStep, runPipeline, STEP_NAMES } from "./pipeline/index.ts";
export { isSecret, redact, Secret } from "./secret.ts";
export type {
  CreateSecretStoreOptions,
  OpenStoreOptions,
  SecretBackend,
  SecretInfo,
  SecretStore,
} from "./secrets/index.ts";
export { createSecretResolver, createSecretStore, openSecretStore } from "./secrets/index.ts";
export type { BuildServerOptions } from "./server/index.ts";
export { buildServer } from "./server/index.ts";
export type { OpenStateStoreOptions, RunRecord, StateStore } from "./store/index.ts";
export { openStateStore } from "./store/index.ts";
export type { Role } from "./tokens/index.ts";
export { createToken, listTokens, revokeToken } from "./tokens/index.ts";
export type {
  CreateRemoteOptions,
  DeployOptions,
  DeployResult,
  ExportOptions,
  ExportResult,
  RemoteEntry,
  RemoteFS,
} from "./transfer/index.ts";
export { createRemote, runDeploy, runExport } from "./transfer/index.ts";
export type {
  EnvSource,
  InitWorkspaceOptions,
  LoadWorkspaceOptions,
  Origin,
  SiteContext,
  ValidateWorkspaceOptions,
  ValidationReport,
  Workspace,
} from "./workspace/index.ts";
export { findWorkspaceRoot, initWorkspace, loadWorkspace, validateWorkspace } from "./workspace/index.ts";
