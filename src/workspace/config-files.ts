import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { SiteConfig } from "../config/index.ts";
import { isSiteloomError, SiteloomError } from "../errors.ts";
import { loadWorkspace, SITE_FILE, WORKSPACE_FILE } from "./load.ts";
import { SITE_NAME_PATTERN } from "./sites.ts";
import type { LoadWorkspaceOptions } from "./types.ts";

/** Relative path (`siteloom.yaml`, `sites/<name>/site.yaml`) → text: the configuration files of a workspace. */
export type ConfigFiles = Record<string, string>;

/**
 * Throws ERR_USAGE unless `name` is one of a workspace's configuration files (`siteloom.yaml`,
 * `sites/<site>/site.yaml`): a name from an API body or a stored version never leaves the workspace folder.
 */
export function checkConfigFileName(name: string): void {
  if (!isConfigFileName(name)) throw new SiteloomError("ERR_USAGE", `not a configuration file: ${name}`);
}

/** Whether `name` is one of a workspace's configuration files (see checkConfigFileName). */
export function isConfigFileName(name: string): boolean {
  const parts = name.split("/");
  const isSiteFile =
    parts.length === 3 && parts[0] === "sites" && SITE_NAME_PATTERN.test(parts[1]!) && parts[2] === SITE_FILE;
  return name === WORKSPACE_FILE || isSiteFile;
}

/** Every environment of a workspace, loaded and validated: its workspace config and each site's. */
export interface LoadedEnvironments {
  envs: string[];
  defaultEnv: string;
  sites: string[];
  resolved: Map<string, { workspace: SiteConfig; sites: ReadonlyMap<string, SiteConfig> }>;
}

/** Reads siteloom.yaml and every sites/<name>/site.yaml (a folder without site.yaml is not a site). */
export async function readConfigFiles(root: string): Promise<ConfigFiles> {
  const files: ConfigFiles = {};
  files[WORKSPACE_FILE] = await readFile(join(root, WORKSPACE_FILE), "utf8");
  const sitesDir = join(root, "sites");
  if (existsSync(sitesDir)) {
    const entries = await readdir(sitesDir, { withFileTypes: true });
    for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      try {
        files[`sites/${entry.name}/${SITE_FILE}`] = await readFile(join(sitesDir, entry.name, SITE_FILE), "utf8");
      } catch {
        // a folder without site.yaml is not a site
      }
    }
  }
  return files;
}

/** Whether two sets of configuration files are the same, name for name and byte for byte. */
export function sameConfigFiles(a: Readonly<ConfigFiles>, b: Readonly<ConfigFiles>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

/** Loads every environment and every site of the workspace at `root` (throws the first configuration error). */
export async function loadAllEnvironments(
  root: string,
  vars: Record<string, string | undefined>,
): Promise<LoadedEnvironments> {
  const base: LoadWorkspaceOptions = { workspace: root, vars };
  const first = await loadWorkspace(base);
  const envs = [...first.config.profiles];
  // environments and sites load concurrently: the file reads overlap, which is most of a reload's time
  const loaded = await Promise.all(
    envs.map(async (env) => {
      const ws = env === first.env ? first : await loadWorkspace({ ...base, env });
      const configs = await Promise.all(ws.sites.map(async (name) => [name, (await ws.site(name)).config] as const));
      return [env, { workspace: ws.config, sites: new Map<string, SiteConfig>(configs) }] as const;
    }),
  );
  return { envs, defaultEnv: first.env, sites: [...first.sites], resolved: new Map(loaded) };
}

/**
 * Validates a candidate set of configuration files (every environment, every site) in a temporary copy, so an
 * invalid change never touches the real files. Errors name the workspace's files, not the temporary folder.
 */
export async function validateConfigFiles(files: ConfigFiles, vars: Record<string, string | undefined>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "siteloom-candidate-"));
  try {
    for (const [name, text] of Object.entries(files)) {
      const file = join(dir, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    }
    await loadAllEnvironments(dir, vars);
  } catch (error) {
    const err = isSiteloomError(error)
      ? error
      : new SiteloomError("ERR_CONFIG_INVALID", (error as Error)?.message ?? String(error), { cause: error });
    const strip = (text: string) => text.split(`${dir}/`).join("").split(dir).join(".");
    throw new SiteloomError(err.code, strip(err.message), { details: err.details.map(strip), cause: err.cause });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
