export { type AwsBackendOptions, awsBackend } from "./backends/aws.ts";
export { type AzureBackendOptions, azureBackend } from "./backends/azure.ts";
export { type DigitalOceanBackendOptions, digitaloceanBackend } from "./backends/digitalocean.ts";
export { type EnvBackendOptions, envBackend, envVarName } from "./backends/env.ts";
export {
  createFileBackend,
  type FileBackend,
  type FileBackendOptions,
  fileBackend,
  type StorePayload,
} from "./backends/file.ts";
export { type GcpBackendOptions, gcpBackend } from "./backends/gcp.ts";
export { BACKENDS, backendTypeList, findBackend } from "./backends/index.ts";
export { type VaultBackendOptions, vaultBackend } from "./backends/vault.ts";
export { type BackendContext, type BackendDefinition, defineBackend } from "./define.ts";
export {
  type BuildExportOptions,
  buildExport,
  type ExportFile,
  type ExportFormat,
  writeExport,
} from "./export.ts";
export {
  configDir,
  createIdentityFile,
  defaultIdentityPath,
  type LoadedIdentity,
  loadIdentity,
  workspaceId,
} from "./identity.ts";
export { type MigrateItem, type MigrateOptions, type MigrateResult, parseDotenv, runMigrate } from "./migrate.ts";
export {
  configFiles,
  findPlaintextCredentials,
  type PlaintextFinding,
  rewriteYamlValues,
  scanYaml,
  suggestName,
} from "./plaintext.ts";
export { askHidden, type ReadValueOptions, readSecretValue } from "./prompt.ts";
export {
  createBackend,
  defaultStoreName,
  isFileBackend,
  type OpenStoreOptions,
  openSecretStore,
  type SecretsWorkspace,
  storeConfig,
  storeNames,
} from "./registry.ts";
export { createSecretResolver } from "./resolver.ts";
export { type CreateSecretStoreOptions, createSecretStore, type SecretStore } from "./store.ts";
export { useSecretStore } from "./stores.ts";
export type * from "./types.ts";
export {
  guardPlaintext,
  type ResolvingWorkspace,
  type WorkspaceSecretsOptions,
  workspaceSecrets,
} from "./workspace.ts";
