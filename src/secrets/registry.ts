import { resolve } from "node:path";
import type { StoreConfig, WorkspaceConfig } from "../config/index.ts";
import { EnvStoreSchema, FileStoreSchema, referenceUse, resolveValue } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { currentActor } from "../events.ts";
import { envBackend } from "./backends/env.ts";
import { createFileBackend, type FileBackend } from "./backends/file.ts";
import { vaultBackend } from "./backends/vault.ts";
import { defaultIdentityPath, loadIdentity } from "./identity.ts";
import { createSecretStore, type SecretStore } from "./store.ts";
import type { SecretBackend } from "./types.ts";

/** The part of a workspace the secrets layer needs (a loaded `Workspace` fits). */
export interface SecretsWorkspace {
  /** Absolute path of the workspace root. */
  root: string;
  /** Absolute path of `.siteloom/`. */
  stateDir: string;
  /** The active environment. */
  env: string;
  config: Pick<WorkspaceConfig, "secrets" | "env">;
}

export interface OpenStoreOptions {
  /** Store name; default: SITELOOM_SECRETS_BACKEND, then `secrets.backend`. */
  name?: string | undefined;
  /** Environment whose store to open. @default workspace.env */
  env?: string;
  /** Variables (identity, passphrase, env backend). @default process.env */
  vars?: Record<string, string | undefined>;
  /** Asks for the passphrase of a passphrase store when SITELOOM_AGE_PASSPHRASE is not set (the CLI prompts). */
  askPassphrase?: (question: string) => Promise<string>;
  /** scrypt work factor for new passphrase stores (tests lower it). */
  scryptWorkFactor?: number;
}

/** Names of every usable store: the configured ones plus the built-in `file` and `env`. */
export function storeNames(workspace: SecretsWorkspace): string[] {
  return [...new Set(["file", "env", ...Object.keys(workspace.config.secrets.stores)])];
}

/** The store used when none is named. */
export function defaultStoreName(
  workspace: SecretsWorkspace,
  vars: Record<string, string | undefined> = process.env,
): string {
  return vars.SITELOOM_SECRETS_BACKEND || workspace.config.secrets.backend;
}

/** The configuration of a store by name (built-in defaults for `file` and `env`). */
export function storeConfig(workspace: SecretsWorkspace, name: string): StoreConfig {
  const configured = workspace.config.secrets.stores[name];
  if (configured) return configured;
  if (name === "file") return FileStoreSchema.parse({ type: "file" });
  if (name === "env") return EnvStoreSchema.parse({ type: "env" });
  throw new SiteloomError(
    "ERR_CONFIG_INVALID",
    `no secret store named "${name}"; configured stores: ${storeNames(workspace).join(", ")} (add one under secrets.stores in siteloom.yaml)`,
  );
}

/** Opens a configured store (no I/O until it is used). */
export function openSecretStore(workspace: SecretsWorkspace, options: OpenStoreOptions = {}): SecretStore {
  const vars = options.vars ?? process.env;
  const name = options.name ?? defaultStoreName(workspace, vars);
  const env = options.env ?? workspace.env;
  const backend = createBackend(workspace, name, { ...options, vars, env });
  return createSecretStore(backend, { name, env, actor: currentActor(vars) });
}

/** Builds the backend of a named store. */
export function createBackend(
  workspace: SecretsWorkspace,
  name: string,
  options: OpenStoreOptions & { vars: Record<string, string | undefined>; env: string },
): SecretBackend {
  const config = storeConfig(workspace, name);
  const { vars, env } = options;
  switch (config.type) {
    case "file":
      return createFileBackend({
        path: resolve(workspace.root, config.path.replaceAll("{env}", env)),
        env,
        historySize: workspace.config.secrets.historySize,
        recipients: config.recipients,
        identity: _memo(() => loadIdentity({ root: workspace.root, env, identityFile: config.identityFile, vars })),
        identityHint: defaultIdentityPath({ root: workspace.root, env, identityFile: config.identityFile, vars }),
        ...(config.passphrase
          ? {
              passphrase: _memo(async () => {
                if (vars.SITELOOM_AGE_PASSPHRASE) return vars.SITELOOM_AGE_PASSPHRASE;
                if (options.askPassphrase) return options.askPassphrase(`Passphrase for the ${env} secret store: `);
                throw new SiteloomError(
                  "ERR_SECRET_LOCKED",
                  `the ${env} store "${name}" is encrypted with a passphrase: set SITELOOM_AGE_PASSPHRASE or run on a terminal to be asked`,
                );
              }),
            }
          : {}),
        ...(options.scryptWorkFactor ? { scryptWorkFactor: options.scryptWorkFactor } : {}),
      });
    case "env":
      return envBackend({ prefix: config.prefix, env: vars, secretsDir: resolve(workspace.root, config.secretsDir) });
    case "vault": {
      const tokenRef = config.token;
      return vaultBackend({
        address: config.address,
        mount: config.mount,
        prefix: config.prefix,
        env,
        token: _memo(async () => {
          if (tokenRef)
            return (
              await resolveValue(tokenRef, {
                env: vars,
                origin: `secrets.stores.${name}.token`,
                use: referenceUse(workspace.config, { field: `secrets.stores.${name}.token` }),
              })
            ).reveal();
          if (vars.VAULT_TOKEN) return vars.VAULT_TOKEN;
          throw new SiteloomError(
            "ERR_SECRET_LOCKED",
            `no Vault token for store "${name}": set VAULT_TOKEN, or token: \${VAULT_TOKEN} on the store`,
          );
        }),
      });
    }
    default:
      throw new SiteloomError(
        "ERR_NOT_IMPLEMENTED",
        `store "${name}" has a type this version of siteloom does not support; use a file, env or vault store`,
      );
  }
}

/** True when the backend is the age file store (recipients, init, export use its extra operations). */
export function isFileBackend(backend: SecretBackend): backend is FileBackend {
  return backend.type === "file";
}

// --- internal ---

function _memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn().catch((error) => {
      p = undefined;
      throw error;
    });
    return p;
  };
}
