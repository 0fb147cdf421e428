import type { StoreConfig, WorkspaceConfig } from "../config/index.ts";
import { referenceUse, resolveValue, StoreSchema } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { currentActor } from "../events.ts";
import type { FileBackend } from "./backends/file.ts";
import { backendTypeList, findBackend } from "./backends/index.ts";
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
  if (name === "file") return StoreSchema.parse({ type: "file" });
  if (name === "env") return StoreSchema.parse({ type: "env" });
  throw new SiteloomError(
    "ERR_CONFIG_INVALID",
    `no secret store named "${name}"; configured stores: ${storeNames(workspace).join(", ")} (add one under secrets.stores in siteloom.yaml)`,
  );
}

/**
 * Opens a configured store: imports its backend module (only that one; its SDK waits for the first request) and
 * builds the backend. No I/O against the store until it is used.
 */
export async function openSecretStore(
  workspace: SecretsWorkspace,
  options: OpenStoreOptions = {},
): Promise<SecretStore> {
  const vars = options.vars ?? process.env;
  const name = options.name ?? defaultStoreName(workspace, vars);
  const env = options.env ?? workspace.env;
  const backend = await createBackend(workspace, name, { ...options, vars, env });
  return createSecretStore(backend, { name, env, actor: currentActor(vars) });
}

/** Builds the backend of a named store through the backend registry (src/secrets/backends/index.ts). */
export async function createBackend(
  workspace: SecretsWorkspace,
  name: string,
  options: OpenStoreOptions & { vars: Record<string, string | undefined>; env: string },
): Promise<SecretBackend> {
  const config = storeConfig(workspace, name);
  const definition = findBackend(config.type);
  if (!definition) {
    throw new SiteloomError(
      "ERR_NOT_IMPLEMENTED",
      `store "${name}" has type "${config.type}", which this version of siteloom does not know; use ${backendTypeList()}`,
    );
  }
  const { vars, env } = options;
  const { create } = await definition.load();
  return create(config, {
    store: name,
    env,
    root: workspace.root,
    vars,
    historySize: workspace.config.secrets.historySize,
    resolveCredential: async (value, origin) =>
      (
        await resolveValue(value, { env: vars, origin, use: referenceUse(workspace.config, { field: origin }) })
      ).reveal(),
    askPassphrase: options.askPassphrase,
    scryptWorkFactor: options.scryptWorkFactor,
  });
}

/** True when the backend is the age file store (recipients, init, export use its extra operations). */
export function isFileBackend(backend: SecretBackend): backend is FileBackend {
  return backend.type === "file";
}
