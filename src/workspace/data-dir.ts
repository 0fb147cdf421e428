import { join, resolve } from "node:path";
import type { WorkspaceConfig } from "../config/index.ts";
import { SITES_DIR } from "../config/index.ts";

/** The workspace's state folder name (runs, locks, manifests, caches, the SQLite store). */
export const STATE_DIR = ".siteloom";

/** The folders a site's runs write (absolute). */
export interface SiteDataPaths {
  /** The folder holding export/, articles/ and output/: sites/<name>/, or <data>/<name>/ with a data folder. */
  data: string;
  export: string;
  articles: string;
  output: string;
}

/**
 * The data folder of a workspace: SITELOOM_DATA_DIR (relative to the current directory), else `paths.data` of the
 * configuration (relative to the workspace root), else undefined (the classic layout: data beside each site.yaml,
 * state in <root>/.siteloom). Every path a run writes is derived from this one value, here.
 */
export function resolveDataDir(
  root: string,
  config: Pick<WorkspaceConfig, "paths"> | undefined,
  vars: Record<string, string | undefined> = process.env,
): string | undefined {
  const fromVar = vars.SITELOOM_DATA_DIR;
  if (fromVar) return resolve(fromVar);
  const fromConfig = config?.paths?.data;
  return fromConfig ? resolve(root, fromConfig) : undefined;
}

/** `.siteloom/` of the workspace: under the data folder when there is one, else at the root. */
export function stateDirOf(root: string, dataDir: string | undefined): string {
  return join(dataDir ?? root, STATE_DIR);
}

/** export/, articles/ and output/ of one site: under <data>/<name>/, else beside its site.yaml. */
export function siteDataPaths(root: string, name: string, dataDir: string | undefined): SiteDataPaths {
  const data = dataDir ? join(dataDir, name) : join(root, SITES_DIR, name);
  return { data, export: join(data, "export"), articles: join(data, "articles"), output: join(data, "output") };
}
