export { SITE_FILE, SITES_DIR, WORKSPACE_FILE } from "./files.ts";
export type { GuardedChange } from "./guard.ts";
export { guardedChanges } from "./guard.ts";
export type { ConfigFile, ConfigLayer, Located, Merged, NodePosition, Origin, OriginLayer, Setting } from "./layers.ts";
export {
  fileLayer,
  formatOrigin,
  getPath,
  isPlainObject,
  mergeLayers,
  originsOf,
  PROTOTYPE_KEYS,
  parseConfigText,
  parseSettingValue,
  readConfigFile,
  settingLayer,
  settingsFromFlags,
  settingsFromVariables,
  validateMerged,
} from "./layers.ts";
export {
  isCredentialInFile,
  isCredentialVariable,
  maskConfigText,
  maskCredentials,
  plaintextCredentialPaths,
} from "./mask.ts";
export type { ConfigProblem } from "./problems.ts";
export { dedupeProblems, didYouMean, formatProblem, showValue } from "./problems.ts";
export type {
  CredentialUse,
  EnvReference,
  Reference,
  ReferenceUse,
  ResolveValueOptions,
  SecretReference,
  SecretResolver,
} from "./references.ts";
export { isReference, parseReference, parseSecretReference, referenceUse, resolveValue } from "./references.ts";
export type {
  AlertChannelConfig,
  AlertRule,
  AlertsConfig,
  BudgetsConfig,
  ContentConfig,
  DeployConfig,
  EnrichConfig,
  ExportConfig,
  FeaturesConfig,
  LlmConfig,
  MetricsConfig,
  QueueConfig,
  RemoteConfig,
  ScheduleConfig,
  SecretsConfig,
  ServerConfig,
  SiteConfig,
  StoreConfig,
  WordpressConfig,
  WorkspaceConfig,
} from "./schema.ts";
export {
  ALERT_KINDS,
  ContentSchema,
  DEFAULT_PROFILES,
  EnrichSchema,
  ExportSchema,
  RemoteSchema,
  SiteConfigSchema,
  SiteFileSchema,
  StoreSchema,
  WorkspaceFileSchema,
} from "./schema.ts";
export type { Guard, GuardedField } from "./schema-walk.ts";
export { type CredentialField, credential, credentialFields, guardedFields, isCredentialAt } from "./schema-walk.ts";
export type { SiteTemplateOptions, WorkspaceTemplateOptions } from "./template.ts";
export { generateJsonSchemas, renderSiteTemplate, renderWorkspaceTemplate } from "./template.ts";
export {
  type ConfigEdit,
  type ConfigFileUpdate,
  checkWritableFolder,
  configLockFile,
  releaseInFolderLock,
  removeConfigFile,
  type UpdateConfigFileOptions,
  updateConfigFile,
  withConfigFileLock,
} from "./update.ts";
