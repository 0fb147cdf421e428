// The secrets domain's public face: opening stores, the backends (for library users and the contract tests), and the
// operations the CLI and the API share. File helpers, YAML rewriting and name mapping stay inside.
export { type AwsBackendOptions, awsBackend } from "./backends/aws.ts";
export { type AzureBackendOptions, azureBackend } from "./backends/azure.ts";
export { type DigitalOceanBackendOptions, digitaloceanBackend } from "./backends/digitalocean.ts";
export { type EnvBackendOptions, envBackend, envVarName } from "./backends/env.ts";
export { createFileBackend, type FileBackend, type FileBackendOptions } from "./backends/file.ts";
export { type GcpBackendOptions, gcpBackend } from "./backends/gcp.ts";
export { type BackendTypeInfo, backendTypes } from "./backends/index.ts";
export { type VaultBackendOptions, vaultBackend } from "./backends/vault.ts";
export { type CopyReport, type CopySecretsOptions, copySecrets } from "./copy.ts";
export { type BackendContext, type BackendDefinition, defineBackend } from "./define.ts";
export { type BuildExportOptions, type ExportFile, type ExportFormat, exportSecrets, writeExport } from "./export.ts";
export { generateSecretValue } from "./generate.ts";
export { createIdentityFile, type LoadedIdentity, loadIdentity } from "./identity.ts";
export { type InitSecretStoreOptions, type InitSecretStoreResult, initSecretStore } from "./init.ts";
export { type MigrateItem, type MigrateOptions, type MigrateResult, runMigrate } from "./migrate.ts";
export type { PlaintextFinding } from "./plaintext.ts";
export { askHidden, type ReadValueOptions, readSecretValue } from "./prompt.ts";
export { defaultStoreName, type OpenStoreOptions, openSecretStore, type SecretsWorkspace } from "./registry.ts";
export { createSecretResolver } from "./resolver.ts";
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
