import { currentActor, publishEvent } from "../events.ts";
import type { StateStore } from "../store/index.ts";
import { readConfigFiles, sameConfigFiles, validateConfigFiles } from "../workspace/index.ts";
import { createStoreVersionRepository } from "./versions.ts";
import { diffFiles } from "./yaml-edit.ts";

export interface PushConfigOptions {
  /** Workspace root whose siteloom.yaml and sites/<name>/site.yaml are recorded. */
  root: string;
  store: StateStore;
  /** What changed, kept with the version. */
  message: string;
  /** Variables for validating (SITELOOM_* overrides, `${NAME}` references). @default process.env */
  vars?: Record<string, string | undefined>;
}

/** What `pushConfigFiles` did. */
export interface PushedConfig {
  /** False when the files were already the latest version (nothing recorded). */
  recorded: boolean;
  /** The version the files are now. */
  version: number;
  /** The files that differ from the version before (empty when nothing was recorded). */
  files: string[];
}

/**
 * Records a workspace's configuration files as a new version (source `cli`), as a server records an edit its watcher
 * saw: validated first in every environment (ERR_CONFIG_INVALID, nothing recorded), and nothing recorded when the
 * files equal the latest version. Every process following the store's versions then writes them into its files.
 */
export async function pushConfigFiles(options: PushConfigOptions): Promise<PushedConfig> {
  const files = await readConfigFiles(options.root);
  await validateConfigFiles(files, options.vars ?? process.env);
  const versions = createStoreVersionRepository(options.store);
  const latest = await versions.latest();
  if (latest && sameConfigFiles(latest.files, files)) return { recorded: false, version: latest.version, files: [] };
  const before = latest?.files ?? {};
  const actor = currentActor();
  const version = await versions.append({
    at: new Date().toISOString(),
    actor,
    source: latest ? "cli" : "initial",
    message: options.message,
    diff: diffFiles(before, files),
    files,
  });
  publishEvent({ action: "config.push", ref: "siteloom.yaml", env: "", actor, outcome: "ok", version, source: "cli" });
  const names = [...new Set([...Object.keys(before), ...Object.keys(files)])].sort();
  return { recorded: true, version, files: names.filter((name) => before[name] !== files[name]) };
}
