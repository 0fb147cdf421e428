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
  mergeLayers,
  originsOf,
  parseConfigText,
  parseSettingValue,
  RESERVED_VARIABLES,
  readConfigFile,
  settingLayer,
  settingsFromFlags,
  settingsFromVariables,
  validateMerged,
} from "./layers.ts";
export { MASK, maskCredentials } from "./mask.ts";
export type { ConfigProblem } from "./problems.ts";
export { dedupeProblems, describeIssue, didYouMean, formatProblem, levenshtein, showValue } from "./problems.ts";
export type { EnvReference, Reference, ResolveValueOptions, SecretReference, SecretResolver } from "./references.ts";
export {
  isReference,
  parseReference,
  parseSecretReference,
  resolveValue,
  SCOPE_PATTERN,
  SECRET_NAME_PATTERN,
  SECRET_SCHEME,
} from "./references.ts";
export * from "./schema.ts";
export { CREDENTIAL_META, describeAt, isCredentialAt, kindAt, schemasAt, validKeysAt } from "./schema-walk.ts";
export type { SiteTemplateOptions, WorkspaceTemplateOptions } from "./template.ts";
export { generateJsonSchemas, renderSiteTemplate, renderWorkspaceTemplate } from "./template.ts";
