// The public library API: every export is named here.
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
export { type ErrorCode, EXIT_CODES, SiteloomError } from "./errors.ts";
export { createLogger, type Logger } from "./log/index.ts";
export { isSecret, redact, Secret } from "./secret.ts";
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
