import type { SecretReference, SecretResolver } from "../config/index.ts";
import type { Secret } from "../secret.ts";
import { type OpenStoreOptions, openSecretStore, type SecretsWorkspace } from "./registry.ts";
import type { SecretStore } from "./store.ts";

/**
 * The `SecretResolver` the workspace loader uses for `secret://` references: the default store of the active
 * environment, opened on first use. Values come back as `Secret` objects and never enter a config object.
 */
export function createSecretResolver(workspace: SecretsWorkspace, options: OpenStoreOptions = {}): SecretResolver {
  let store: SecretStore | undefined;
  return {
    resolve(ref: SecretReference): Promise<Secret> {
      store ??= openSecretStore(workspace, options);
      return store.get(ref.raw);
    },
  };
}
