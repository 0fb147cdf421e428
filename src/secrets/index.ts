// The secrets domain's public face: opening stores, the file backend and the backend registry, and the operations
// the CLI and the API share. Other backends are imported by the registry when a store of their type is opened;
// file helpers, YAML rewriting and name mapping stay inside.
export { createFileBackend, type FileBackend, type FileBackendOptions } from "./backends/file.ts";
export { BACKENDS, type BackendTypeInfo, backendTypes } from "./backends/index.ts";
export { type CopyReport, type CopySecretsOptions, copySecrets } from "./copy.ts";
export { type BackendContext, type BackendCreate, type BackendDescriptor, defineBackend } from "./define.ts";
export {
  type ConfigSource,
  collectSpecVariables,
  type FilledAppSpec,
  fillAppSpec,
  type SpecVariable,
  type SpecVariables,
} from "./do-app-spec.ts";
export { envVarName } from "./env-names.ts";
export { type BuildExportOptions, type ExportFile, type ExportFormat, exportSecrets, writeExport } from "./export.ts";
export { generateSecretValue } from "./generate.ts";
export { createIdentityFile, type LoadedIdentity, loadIdentity } from "./identity.ts";
export { type InitSecretStoreOptions, type InitSecretStoreResult, initSecretStore } from "./init.ts";
export {
  applyMigrate,
  type MigrateItem,
  type MigrateOptions,
  type MigratePlan,
  type MigrateResult,
  planMigrate,
  runMigrate,
} from "./migrate.ts";
export type { PlaintextFinding } from "./plaintext.ts";
export { askHidden, type ReadValueOptions, readSecretValue } from "./prompt.ts";
export { defaultStoreName, type OpenStoreOptions, openSecretStore, type SecretsWorkspace } from "./registry.ts";
export { forgetResolvedSecrets } from "./resolved-cache.ts";
export { createSecretResolver, SECRET_CACHE_TTL_MS, type SecretResolverOptions } from "./resolver.ts";
export { type CreateSecretStoreOptions, createSecretStore, type SecretStore } from "./store.ts";
export {
  describeSecretStores,
  type StoreCheck,
  type StoreSummary,
  storeRecipients,
  testSecretStores,
  updateStoreRecipients,
  useSecretStore,
} from "./stores.ts";
export type * from "./types.ts";
export {
  guardPlaintext,
  type ResolvingWorkspace,
  type WorkspaceSecretsOptions,
  workspaceSecrets,
} from "./workspace.ts";
