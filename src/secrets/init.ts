import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import { createIdentityFile, defaultIdentityPath, loadIdentity } from "./identity.ts";
import {
  defaultStoreName,
  isFileBackend,
  type OpenStoreOptions,
  openSecretStore,
  type SecretsWorkspace,
  storeConfig,
} from "./registry.ts";

export interface InitSecretStoreOptions extends Omit<OpenStoreOptions, "env"> {}

export interface InitSecretStoreResult {
  store: string;
  env: string;
  /** The store file, relative to the workspace root. */
  path: string;
  /** False when the store existed (and was opened to check the identity). */
  created: boolean;
  /** The identity used (none for a passphrase store). */
  identity?: { source: string; created: boolean; recipients: string[] };
  /** True for a passphrase store. */
  passphrase: boolean;
}

/**
 * Creates the identity (unless one exists, or the store uses a passphrase) and the file store of the workspace's
 * environment; an existing store is opened instead, which checks that the identity fits. Safe to run again.
 */
export async function initSecretStore(
  workspace: SecretsWorkspace,
  options: InitSecretStoreOptions = {},
): Promise<InitSecretStoreResult> {
  const vars = options.vars ?? process.env;
  const name = options.name ?? defaultStoreName(workspace, vars);
  const config = storeConfig(workspace, name);
  if (config.type !== "file") {
    throw new SiteloomError(
      "ERR_USAGE",
      `store "${name}" is a ${config.type} store; only file stores are created by init`,
    );
  }
  const where = { root: workspace.root, env: workspace.env, identityFile: config.identityFile, vars };
  let identity: InitSecretStoreResult["identity"];
  if (!config.passphrase) {
    const found = await loadIdentity(where);
    const storePath = resolve(workspace.root, config.path.replaceAll("{env}", workspace.env));
    if (!found && existsSync(storePath)) {
      throw new SiteloomError(
        "ERR_SECRET_LOCKED",
        `${relative(workspace.root, storePath)} exists but no identity to open it was found (looked for ${defaultIdentityPath(where)}); set SITELOOM_AGE_IDENTITY_FILE to its key instead of creating a new one`,
      );
    }
    const used = found ?? (await createIdentityFile(defaultIdentityPath(where)));
    identity = { source: used.source, created: !found, recipients: used.recipients };
  }
  const store = await openSecretStore(workspace, { ...options, name, vars });
  const backend = store.backend;
  if (!isFileBackend(backend)) throw new SiteloomError("ERR_INTERNAL", `store "${name}" is not a file store`);
  let created = false;
  if (!backend.exists()) {
    await backend.init();
    created = true;
    publishEvent({
      action: "init",
      ref: `store:${name}`,
      store: name,
      env: workspace.env,
      actor: currentActor(vars),
      outcome: "ok",
    });
  } else {
    await store.test();
  }
  return {
    store: name,
    env: workspace.env,
    path: relative(workspace.root, backend.path),
    created,
    ...(identity ? { identity } : {}),
    passphrase: Boolean(config.passphrase),
  };
}
