import { SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import type { StateStore } from "../store/index.ts";
import { type ConfigFiles, readConfigFiles, sameConfigFiles, validateConfigFiles } from "../workspace/index.ts";
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
  /**
   * The files as they were before a command changed some of them: every file the command left alone must equal the
   * latest version's (else ERR_STORE_CONFLICT, nothing recorded), so a folder behind the store never records its older
   * files over changes made elsewhere.
   */
  before?: ConfigFiles;
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
  if (options.before && latest) {
    // files the command left alone must be the latest version's: else this folder is behind (or hand-edited) there
    const before = options.before;
    const names = new Set([...Object.keys(latest.files), ...Object.keys(before), ...Object.keys(files)]);
    const behind = [...names].filter((name) => before[name] === files[name] && before[name] !== latest.files[name]);
    if (behind.length > 0) {
      throw new SiteloomError(
        "ERR_STORE_CONFLICT",
        `${behind.sort().join(", ")} ${behind.length === 1 ? "differs" : "differ"} from the latest recorded version (${latest.version}), and recording this folder would undo what changed there; bring the folder up to date (a serve or worker running on it writes the recorded version into it), or check it first`,
      );
    }
  }
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
