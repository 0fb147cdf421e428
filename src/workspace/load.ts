import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  type ConfigFile,
  type ConfigLayer,
  type ConfigProblem,
  DEFAULT_PROFILES,
  didYouMean,
  fileLayer,
  formatProblem,
  isPlainObject,
  type Located,
  mergeLayers,
  originsOf,
  readConfigFile,
  referenceUse,
  resolveValue,
  type SecretResolver,
  type Setting,
  SITE_FILE,
  SITES_DIR,
  type SiteConfig,
  SiteConfigSchema,
  settingLayer,
  settingsFromFlags,
  settingsFromVariables,
  validateMerged,
  WORKSPACE_FILE,
} from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { resolveDataDir, STATE_DIR, siteDataPaths, stateDirOf } from "./data-dir.ts";
import type { EnvSource, LoadWorkspaceOptions, SiteContext, Workspace } from "./types.ts";

export { SITE_FILE, SITES_DIR, STATE_DIR, WORKSPACE_FILE };

/** Finds the workspace root: explicit option, then SITELOOM_WORKSPACE, then walking up from cwd like git. */
export function findWorkspaceRoot(options: LoadWorkspaceOptions = {}): string {
  const vars = options.vars ?? process.env;
  const explicit = options.workspace ?? vars.SITELOOM_WORKSPACE;
  if (explicit) {
    const root = resolve(options.cwd ?? process.cwd(), explicit);
    if (!existsSync(join(root, WORKSPACE_FILE))) {
      const from = options.workspace ? "--workspace" : "SITELOOM_WORKSPACE";
      throw new SiteloomError(
        "ERR_WORKSPACE_NOT_FOUND",
        `no ${WORKSPACE_FILE} in ${root} (from ${from}); run siteloom init ${root}, or point ${from} at a workspace`,
      );
    }
    return root;
  }
  let dir = resolve(options.cwd ?? process.cwd());
  for (;;) {
    if (existsSync(join(dir, WORKSPACE_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new SiteloomError(
    "ERR_WORKSPACE_NOT_FOUND",
    `no ${WORKSPACE_FILE} found in this directory or any parent; run siteloom init, or pass --workspace <dir>`,
  );
}

/**
 * Loads a workspace: finds it, picks the environment, layers defaults → siteloom.yaml → its environments.<env> →
 * SITELOOM_* variables → flags, and validates. Sites are layered and validated when `site(name)` asks for them.
 * Invalid configuration throws ERR_CONFIG_INVALID whose `details` are `file:line:col path: message` lines.
 */
export async function loadWorkspace(options: LoadWorkspaceOptions = {}): Promise<Workspace> {
  const prepared = await prepareWorkspace(options);
  const { root, wsFile, vars } = prepared;
  _throwIfProblems(wsFile.problems);
  const { env, source: envSource } = selectEnvironment(prepared, options);
  _throwIfProblems([
    ..._structureProblems(wsFile, "workspace", prepared.profiles),
    ...prepared.variables.problems,
    ...prepared.flags.problems,
  ]);
  const merged = mergeLayers([...workspaceLayers(prepared, env), ...tailLayers(prepared, undefined)]);
  const { config, problems } = validateMerged(SiteConfigSchema, merged, WORKSPACE_FILE);
  _throwIfProblems(problems);
  const sites = listSiteNames(root);
  const cache = new Map<string, Promise<SiteContext>>();
  let resolver: SecretResolver | undefined;
  const dataDir = resolveDataDir(root, config, vars);
  const workspace: Workspace = {
    root,
    dataDir,
    stateDir: stateDirOf(root, dataDir),
    env,
    envSource,
    profiles: prepared.profiles,
    config: config!,
    origins: originsOf(config, merged.where),
    sites,
    site(name: string): Promise<SiteContext> {
      let pending = cache.get(name);
      if (!pending) {
        pending = _loadSite(prepared, env, name, sites);
        // a failed load is not cached: the user may fix the file and a long-lived caller retries
        pending.catch(() => cache.delete(name));
        cache.set(name, pending);
      }
      return pending;
    },
    resolve(value, use) {
      if (typeof options.secrets === "function") resolver ??= options.secrets(workspace);
      else resolver ??= options.secrets;
      return resolveValue(value, {
        secrets: resolver,
        env: vars,
        origin: use.site ? `site ${use.site} ${use.field}` : use.field,
        use: referenceUse(config!, use),
      });
    },
  };
  return workspace;
}

/** Everything read once per load: the root, the workspace file, profiles, variable and flag settings. */
export interface PreparedWorkspace {
  root: string;
  vars: Record<string, string | undefined>;
  wsFile: ConfigFile;
  profiles: string[];
  variables: { settings: Setting[]; problems: ConfigProblem[] };
  flags: { settings: Setting[]; problems: ConfigProblem[] };
}

/** Reads what every load needs (internal to workspace/, shared with validateWorkspace). */
export async function prepareWorkspace(options: LoadWorkspaceOptions): Promise<PreparedWorkspace> {
  const vars = options.vars ?? process.env;
  const root = findWorkspaceRoot(options);
  const wsFile = await readConfigFile(join(root, WORKSPACE_FILE), WORKSPACE_FILE);
  const rawProfiles = wsFile.data.profiles;
  const profiles =
    Array.isArray(rawProfiles) && rawProfiles.length > 0 && rawProfiles.every((p) => typeof p === "string")
      ? (rawProfiles as string[])
      : [...DEFAULT_PROFILES];
  return {
    root,
    vars,
    wsFile,
    profiles,
    variables: settingsFromVariables(vars, SiteConfigSchema),
    flags: settingsFromFlags(options.flags ?? {}, SiteConfigSchema),
  };
}

/**
 * The active environment: --env, then SITELOOM_ENV, then `environment:` in siteloom.yaml, then `development`.
 * Production is never chosen by default: without a choice and without a `development` profile it is an error.
 */
export function selectEnvironment(
  prepared: PreparedWorkspace,
  options: LoadWorkspaceOptions,
): { env: string; source: EnvSource } {
  const fromFile = prepared.wsFile.data.environment;
  const candidates: [string | undefined, EnvSource, string][] = [
    [options.env, "flag", "--env"],
    [prepared.vars.SITELOOM_ENV || undefined, "variable", "SITELOOM_ENV"],
    [typeof fromFile === "string" ? fromFile : undefined, "file", `environment: in ${WORKSPACE_FILE}`],
  ];
  const known = prepared.profiles;
  for (const [env, source, label] of candidates) {
    if (env === undefined) continue;
    if (known.includes(env)) return { env, source };
    const hint = didYouMean(env, known);
    throw new SiteloomError(
      "ERR_CONFIG_ENV_UNKNOWN",
      `unknown environment "${env}" (from ${label})${hint ? `; did you mean "${hint}"?` : ""}; known environments: ${known.join(", ")}`,
    );
  }
  if (known.includes("development")) return { env: "development", source: "default" };
  throw new SiteloomError(
    "ERR_CONFIG_ENV_UNKNOWN",
    `no environment selected and "development" is not a profile; pass --env, set SITELOOM_ENV, or set environment: in ${WORKSPACE_FILE} (known environments: ${known.join(", ")})`,
  );
}

/** siteloom.yaml and its environments.<env> block. */
export function workspaceLayers(prepared: PreparedWorkspace, env: string): ConfigLayer[] {
  return _fileLayers(prepared.wsFile, env, "workspace", "workspace-env");
}

/** site.yaml and its environments.<env> block. */
export function siteLayers(siteFile: ConfigFile, env: string): ConfigLayer[] {
  return _fileLayers(siteFile, env, "site", "site-env");
}

/** SITELOOM_* variables (for all sites, then for this site) and flags: the top of every stack. */
export function tailLayers(prepared: PreparedWorkspace, site: string | undefined): ConfigLayer[] {
  const vars = prepared.variables.settings;
  return [
    ...vars.filter((s) => s.site === undefined).map((s) => settingLayer("env-var", s)),
    ...vars.filter((s) => s.site !== undefined && s.site === site).map((s) => settingLayer("env-var", s)),
    ...prepared.flags.settings.map((s) => settingLayer("flag", s)),
  ];
}

/** Folders of sites/ that hold a site.yaml, sorted. */
export function listSiteNames(root: string): string[] {
  const sitesDir = join(root, SITES_DIR);
  if (!existsSync(sitesDir)) return [];
  return readdirSync(sitesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(sitesDir, d.name, SITE_FILE)))
    .map((d) => d.name)
    .sort();
}

/** Problems with the shape of a file that the merged schema cannot see (environments, workspace-only keys). */
export function structureProblems(file: ConfigFile, kind: "workspace" | "site", profiles: string[]): ConfigProblem[] {
  return _structureProblems(file, kind, profiles);
}

/** Reads, layers and validates one site; problems are returned, not thrown. */
export async function layerSite(
  prepared: PreparedWorkspace,
  env: string,
  name: string,
): Promise<{ siteFile: ConfigFile; problems: ConfigProblem[]; context?: SiteContext }> {
  const dir = join(prepared.root, SITES_DIR, name);
  const siteFilePath = join(dir, SITE_FILE);
  const siteFile = await readConfigFile(siteFilePath, `${SITES_DIR}/${name}/${SITE_FILE}`);
  if (siteFile.problems.length > 0) return { siteFile, problems: siteFile.problems };
  const structural = _structureProblems(siteFile, "site", prepared.profiles);
  const merged = mergeLayers([
    ...workspaceLayers(prepared, env),
    ...siteLayers(siteFile, env),
    ...tailLayers(prepared, name),
  ]);
  const { config, problems } = validateMerged(SiteConfigSchema, merged, siteFile.file);
  if (!config || structural.length > 0) return { siteFile, problems: [...structural, ...problems] };
  const isolation = env === PRODUCTION_ENV ? _productionProblems(config, merged.where, siteFile.file) : [];
  if (isolation.length > 0) return { siteFile, problems: isolation };
  return {
    siteFile,
    problems: [],
    context: {
      name,
      dir,
      config,
      origins: originsOf(config, merged.where),
      paths: {
        ...siteDataPaths(prepared.root, name, resolveDataDir(prepared.root, config, prepared.vars)),
        topics: join(dir, "topics.csv"),
        siteFile: siteFilePath,
      },
    },
  };
}

/** The one error every invalid configuration becomes (the CLI prints message, then each detail line). */
export function configError(problems: ConfigProblem[], site?: string): SiteloomError {
  const n = problems.length;
  return new SiteloomError(
    "ERR_CONFIG_INVALID",
    `invalid configuration (${n} problem${n === 1 ? "" : "s"}); fix ${n === 1 ? "it" : "them"} and rerun (siteloom config validate lists every problem)`,
    { details: problems.map(formatProblem), ...(site ? { site } : {}) },
  );
}

// --- internal ---

const WORKSPACE_ONLY = new Set(["environment", "env", "profiles", "secrets", "server", "paths"]);

async function _loadSite(prepared: PreparedWorkspace, env: string, name: string, sites: string[]) {
  if (!sites.includes(name)) {
    const hint = didYouMean(name, sites);
    throw new SiteloomError(
      "ERR_SITE_NOT_FOUND",
      `no site "${name}" in ${prepared.root}${hint ? `; did you mean "${hint}"?` : ""}; known sites: ${sites.join(", ") || "(none)"}; add one with siteloom site add`,
    );
  }
  const { problems, context } = await layerSite(prepared, env, name);
  if (!context) throw configError(problems, name);
  return context;
}

function _throwIfProblems(problems: ConfigProblem[]): void {
  if (problems.length > 0) throw configError(problems);
}

function _fileLayers(
  file: ConfigFile,
  env: string,
  baseLayer: "workspace" | "site",
  envLayer: "workspace-env" | "site-env",
): ConfigLayer[] {
  const { environments, ...base } = file.data;
  const layers = [fileLayer(baseLayer, file, base)];
  const block = isPlainObject(environments) ? environments[env] : undefined;
  if (isPlainObject(block)) layers.push(fileLayer(envLayer, file, block, ["environments", env]));
  return layers;
}

function _structureProblems(file: ConfigFile, kind: "workspace" | "site", profiles: string[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (path: string, message: string, useKey = true): void => {
    const pos = file.positions.get(path);
    problems.push({
      file: file.file,
      line: (useKey ? pos?.keyLine : undefined) ?? pos?.line ?? 1,
      col: (useKey ? pos?.keyCol : undefined) ?? pos?.col ?? 1,
      path,
      message,
    });
  };
  const checkKeys = (data: Record<string, unknown>, prefix: string[]) => {
    for (const key of Object.keys(data)) {
      const path = [...prefix, key].join(".");
      if (prefix.length > 0 && (key === "environments" || key === "environment" || key === "profiles")) {
        at(path, `"${key}" cannot be set inside an environment block`);
      } else if (kind === "site" && WORKSPACE_ONLY.has(key)) {
        at(path, `"${key}" can only be set in ${WORKSPACE_FILE}, not in a site file`);
      }
    }
  };
  checkKeys(file.data, []);
  const environments = file.data.environments;
  if (environments === undefined || environments === null) return problems;
  if (!isPlainObject(environments)) {
    at("environments", "expected a mapping of environment names (environments: { production: { ... } })", false);
    return problems;
  }
  for (const [name, block] of Object.entries(environments)) {
    if (!profiles.includes(name)) {
      const hint = didYouMean(name, profiles);
      at(
        `environments.${name}`,
        `unknown environment "${name}"${hint ? `; did you mean "${hint}"?` : ""} (known: ${profiles.join(", ")}; add it to profiles: to use it)`,
      );
    }
    if (block === null || block === undefined) continue;
    if (!isPlainObject(block)) {
      at(`environments.${name}`, "expected a mapping of settings for this environment", false);
      continue;
    }
    checkKeys(block, ["environments", name]);
  }
  return problems;
}

/** The environment that refuses development-only settings. */
const PRODUCTION_ENV = "production";

/** Settings that are fine while trying things out but must never reach production. */
const DEVELOPMENT_ONLY: { path: string; active: (c: SiteConfig) => boolean; instead: string }[] = [
  {
    path: "remote.insecure",
    active: (c) => c.remote.insecure,
    instead: "TLS verification cannot be skipped in production; pin remote.tlsFingerprint or remote.caFile instead",
  },
  {
    path: "enrich.drafts",
    active: (c) => c.enrich.drafts === "preview",
    instead: "draft previews would publish sample content; use drafts: skip (the default) in production",
  },
];

function _productionProblems(config: SiteConfig, where: Map<string, Located>, siteFile: string): ConfigProblem[] {
  return DEVELOPMENT_ONLY.filter((rule) => rule.active(config)).map((rule) => {
    const at = where.get(rule.path);
    return {
      file: at?.source ?? siteFile,
      line: at?.line,
      col: at?.col,
      path: rule.path,
      message: `is a development-only setting: ${rule.instead}`,
    };
  });
}
