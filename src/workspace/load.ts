// Minimal workspace loader: the foundation issue replaces its internals (provenance, SITELOOM_* variables, flags,
// positioned validation messages) behind the same `loadWorkspace` signature.
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { resolveValue, type SecretResolver } from "../config/references.ts";
import { SiteConfigSchema } from "../config/schema.ts";
import { SiteloomError } from "../errors.ts";
import type { LoadWorkspaceOptions, SiteContext, Workspace } from "./types.ts";

export const WORKSPACE_FILE = "siteloom.yaml";
export const SITE_FILE = "site.yaml";
export const STATE_DIR = ".siteloom";

/** Finds the workspace root: explicit option, then SITELOOM_WORKSPACE, then walking up from cwd like git. */
export function findWorkspaceRoot(options: LoadWorkspaceOptions = {}): string {
  const vars = options.vars ?? process.env;
  const explicit = options.workspace ?? vars.SITELOOM_WORKSPACE;
  if (explicit) {
    const root = resolve(options.cwd ?? process.cwd(), explicit);
    if (!existsSync(join(root, WORKSPACE_FILE))) {
      throw new SiteloomError("ERR_WORKSPACE_NOT_FOUND", `no ${WORKSPACE_FILE} in ${root}; run siteloom init ${root}`);
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

export async function loadWorkspace(options: LoadWorkspaceOptions = {}): Promise<Workspace> {
  const vars = options.vars ?? process.env;
  const root = findWorkspaceRoot(options);
  const raw = ((await _readYaml(join(root, WORKSPACE_FILE))) ?? {}) as Record<string, unknown>;
  const profiles = (raw.profiles as string[] | undefined) ?? ["development", "staging", "production"];
  const env = options.env ?? vars.SITELOOM_ENV ?? (raw.environment as string | undefined) ?? "development";
  if (!profiles.includes(env)) {
    throw new SiteloomError(
      "ERR_CONFIG_ENV_UNKNOWN",
      `unknown environment "${env}"; known environments: ${profiles.join(", ")}`,
    );
  }
  const envBlock = (raw.environments as Record<string, Record<string, unknown>> | undefined)?.[env] ?? {};
  const { environments: _ignored, ...base } = raw;
  const merged = _merge(base, envBlock);
  const config = _validate(merged, WORKSPACE_FILE);
  const sitesDir = join(root, "sites");
  const sites = existsSync(sitesDir)
    ? readdirSync(sitesDir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(sitesDir, d.name, SITE_FILE)))
        .map((d) => d.name)
        .sort()
    : [];
  let resolver: SecretResolver | undefined;
  const workspace: Workspace = {
    root,
    stateDir: join(root, STATE_DIR),
    env,
    config,
    origins: new Map(),
    sites,
    async site(name: string): Promise<SiteContext> {
      const dir = join(sitesDir, name);
      const siteFile = join(dir, SITE_FILE);
      if (!existsSync(siteFile)) {
        throw new SiteloomError(
          "ERR_SITE_NOT_FOUND",
          `no site "${name}" in ${root}; known sites: ${sites.join(", ") || "(none)"}; add one with siteloom site add`,
        );
      }
      const siteRaw = ((await _readYaml(siteFile)) ?? {}) as Record<string, unknown>;
      const siteEnv = (siteRaw.environments as Record<string, Record<string, unknown>> | undefined)?.[env] ?? {};
      const { environments: _e, ...siteBase } = siteRaw;
      const siteConfig = _validate(_merge(_merge(merged, siteBase), siteEnv), `sites/${name}/${SITE_FILE}`);
      return {
        name,
        dir,
        config: siteConfig,
        origins: new Map(),
        paths: {
          export: join(dir, "export"),
          articles: join(dir, "articles"),
          output: join(dir, "output"),
          topics: join(dir, "topics.csv"),
          siteFile,
        },
      };
    },
    resolve(value, origin) {
      if (typeof options.secrets === "function") resolver ??= options.secrets(workspace);
      else resolver ??= options.secrets;
      return resolveValue(value, { secrets: resolver, env: vars, ...(origin ? { origin } : {}) });
    },
  };
  return workspace;
}

// --- internal ---

async function _readYaml(file: string): Promise<unknown> {
  try {
    return parseYaml(await readFile(file, "utf8"));
  } catch (error) {
    throw new SiteloomError("ERR_CONFIG_INVALID", `${file}: ${(error as Error).message.split("\n")[0]}`, {
      cause: error,
    });
  }
}

function _isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = _isPlainObject(prev) && _isPlainObject(value) ? _merge(prev, value) : value;
  }
  return out;
}

function _validate(data: Record<string, unknown>, file: string) {
  const result = SiteConfigSchema.safeParse(data);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => `${file} ${issue.path.join(".")}: ${issue.message}`);
  throw new SiteloomError("ERR_CONFIG_INVALID", `invalid configuration in ${file}`, { details });
}
