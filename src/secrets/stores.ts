import { join } from "node:path";
import { updateConfigFile, WORKSPACE_FILE } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import type { FileBackend } from "./backends/file.ts";
import {
  defaultStoreName,
  isFileBackend,
  type OpenStoreOptions,
  openSecretStore,
  type SecretsWorkspace,
  storeConfig,
  storeNames,
} from "./registry.ts";
import type { SecretStore } from "./store.ts";

/**
 * Makes a configured store the default: writes `secrets.backend` in siteloom.yaml through the one config write path
 * (comments kept, atomic, audited). Throws ERR_CONFIG_INVALID for a store that is not configured.
 */
export async function useSecretStore(
  workspace: SecretsWorkspace,
  name: string,
): Promise<{ file: string; changed: boolean }> {
  storeConfig(workspace, name);
  const { changed } = await updateConfigFile(
    join(workspace.root, WORKSPACE_FILE),
    (doc) => {
      doc.setIn(["secrets", "backend"], name);
      return undefined;
    },
    { env: workspace.env, ref: WORKSPACE_FILE, detail: "secrets.backend" },
  );
  return { file: WORKSPACE_FILE, changed };
}

/** One configured store as `secrets backend` lists it. */
export interface StoreSummary {
  name: string;
  type: string;
  /** The store used when none is named. */
  default: boolean;
  /** Where its data lives (a path, a URL), or why it cannot be opened. */
  where: string;
}

/** Every usable store of the workspace, the default marked. */
export async function describeSecretStores(
  workspace: SecretsWorkspace,
  vars: Record<string, string | undefined> = process.env,
): Promise<StoreSummary[]> {
  const current = defaultStoreName(workspace, vars);
  return Promise.all(
    storeNames(workspace).map(async (name) => {
      let where: string;
      try {
        where = (await openSecretStore(workspace, { name, vars })).backend.describe();
      } catch (error) {
        where = (error as Error).message;
      }
      return { name, type: storeConfig(workspace, name).type, default: name === current, where };
    }),
  );
}

/** The outcome of unlocking one store. */
export interface StoreCheck {
  store: string;
  default: boolean;
  ok: boolean;
  /** What was checked, or what failed. */
  message: string;
}

/** Opens and unlocks every usable store (the reachability check of each backend). */
export async function testSecretStores(
  workspace: SecretsWorkspace,
  options: Pick<OpenStoreOptions, "vars" | "askPassphrase"> = {},
): Promise<StoreCheck[]> {
  const current = defaultStoreName(workspace, options.vars);
  const results: StoreCheck[] = [];
  for (const name of storeNames(workspace)) {
    try {
      const message = await (await openSecretStore(workspace, { ...options, name })).test();
      results.push({ store: name, default: name === current, ok: true, message });
    } catch (error) {
      results.push({ store: name, default: name === current, ok: false, message: (error as Error).message });
    }
  }
  return results;
}

/** The age recipients a file store is encrypted to. */
export async function storeRecipients(store: SecretStore): Promise<string[]> {
  return _fileBackend(store).recipients();
}

/**
 * Adds and removes age recipients of a file store and re-encrypts it; returns the recipients afterwards. Refuses
 * anything that is not an age public key before changing anything.
 */
export async function updateStoreRecipients(
  store: SecretStore,
  change: { add?: string[]; remove?: string[] },
): Promise<string[]> {
  const add = change.add ?? [];
  const remove = change.remove ?? [];
  for (const r of [...add, ...remove]) {
    if (!/^age1[0-9a-z]{20,}$/.test(r))
      throw new SiteloomError("ERR_USAGE", `"${r}" is not an age recipient (age1...)`);
  }
  const now = await _fileBackend(store).updateRecipients(add, remove);
  publishEvent({
    action: "recipients",
    ref: `store:${store.name}`,
    store: store.name,
    env: store.env,
    actor: currentActor(),
    outcome: "ok",
  });
  return now;
}

// --- internal ---

function _fileBackend(store: SecretStore): FileBackend {
  const backend = store.backend;
  if (!isFileBackend(backend)) {
    throw new SiteloomError(
      "ERR_USAGE",
      `store "${store.name}" is a ${backend.type} store; recipients belong to file stores`,
    );
  }
  return backend;
}
