export { SITE_FILE, SITES_DIR, WORKSPACE_FILE } from "./files.ts";
export type { GuardedChange } from "./guard.ts";
export { guardedChanges } from "./guard.ts";
export type {
  ConfigFile,
  ConfigLayer,
  Located,
  Merged,
  NodePosition,
  Origin,
  OriginLayer,
  Setting,
} from "./layers.ts";
export {
  fileLayer,
  formatOrigin,
  getPath,
  isPlainObject,
  LAYERS,
  MAX_CONFIG_BYTES,
  mergeLayers,
  originsOf,
  PROTOTYPE_KEYS,
  parseConfigText,
  parseSettingValue,
  RESERVED_VARIABLES,
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
export { dedupeProblems, describeIssue, didYouMean, formatProblem, showValue } from "./problems.ts";
export type {
  CredentialUse,
  EnvReference,
  Reference,
  ReferenceUse,
  ResolveValueOptions,
  SecretReference,
  SecretResolver,
} from "./references.ts";
export {
  checkReferenceUse,
  isReference,
  parseReference,
  parseSecretReference,
  referenceUse,
  resolveValue,
  SCOPE_PATTERN,
  SECRET_NAME_PATTERN,
  SECRET_SCHEME,
  UNREADABLE_VARIABLES,
} from "./references.ts";
export * from "./schema.ts";
export type { Guard, GuardedField } from "./schema-walk.ts";
export {
  CREDENTIAL_META,
  type CredentialField,
  credential,
  credentialFields,
  describeAt,
  GUARD_META,
  globalNamesAt,
  guardedFields,
  isCredentialAt,
  kindAt,
  schemasAt,
  validKeysAt,
} from "./schema-walk.ts";
export type { SiteTemplateOptions, WorkspaceTemplateOptions } from "./template.ts";
export { generateJsonSchemas, renderSiteTemplate, renderWorkspaceTemplate } from "./template.ts";
export {
  type ConfigEdit,
  type ConfigFileUpdate,
  type UpdateConfigFileOptions,
  updateConfigFile,
  withConfigFileLock,
} from "./update.ts";
