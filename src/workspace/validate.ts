import {
  type ConfigProblem,
  dedupeProblems,
  mergeLayers,
  plaintextCredentialPaths,
  SiteConfigSchema,
  validateMerged,
} from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import {
  layerSite,
  listSiteNames,
  prepareWorkspace,
  selectEnvironment,
  structureProblems,
  tailLayers,
  WORKSPACE_FILE,
  workspaceLayers,
} from "./load.ts";
import { SITE_NAME_PATTERN, WINDOWS_DEVICE_NAMES } from "./sites.ts";
import type { LoadWorkspaceOptions, SiteContext } from "./types.ts";

/** What `siteloom config validate` reports. */
export interface ValidationReport {
  root: string;
  /** Environments checked (every profile, or the one asked for). */
  environments: string[];
  sites: string[];
  /** Every problem, sorted by file and position, duplicates removed. */
  problems: ConfigProblem[];
}

/** Options for validateWorkspace. */
export interface ValidateWorkspaceOptions extends LoadWorkspaceOptions {
  /** Check only this environment instead of every profile. */
  onlyEnv?: string;
}

/**
 * Checks the workspace file and every site, in every environment, and collects ALL problems instead of stopping at
 * the first: YAML syntax, types and ranges, unknown keys (with a suggestion), misplaced keys, unknown environments,
 * SITELOOM_* variables and flags. Never throws for invalid configuration (only when there is no workspace).
 */
export async function validateWorkspace(options: ValidateWorkspaceOptions = {}): Promise<ValidationReport> {
  const prepared = await prepareWorkspace(options);
  const problems: ConfigProblem[] = [...prepared.wsFile.problems];
  const sites = listSiteNames(prepared.root);
  let environments = prepared.profiles;
  if (options.onlyEnv !== undefined || options.env !== undefined) {
    environments = [selectEnvironment(prepared, { ...options, env: options.onlyEnv ?? options.env }).env];
  } else if (prepared.wsFile.problems.length === 0) {
    // an unknown `environment:` or SITELOOM_ENV is a problem to list with the others
    try {
      selectEnvironment(prepared, options);
    } catch (error) {
      if (!(error instanceof SiteloomError)) throw error;
      problems.push({ file: WORKSPACE_FILE, line: 1, col: 1, path: "environment", message: error.message });
    }
  }
  problems.push(
    ...structureProblems(prepared.wsFile, "workspace", prepared.profiles),
    ...prepared.variables.problems,
    ...prepared.flags.problems,
  );
  for (const setting of prepared.variables.settings) {
    if (setting.site !== undefined && !sites.includes(setting.site)) {
      problems.push({
        file: setting.source,
        path: "",
        message: `there is no site "${setting.site}" in this workspace`,
      });
    }
  }
  for (const name of sites) {
    if (!SITE_NAME_PATTERN.test(name) || name === "global" || WINDOWS_DEVICE_NAMES.test(name)) {
      problems.push({
        file: `sites/${name}/site.yaml`,
        line: 1,
        col: 1,
        path: "",
        message: `"${name}" is not a usable site name (lowercase letters, digits and hyphens; not "global" nor a Windows device name such as con, nul, com1); rename the folder`,
      });
    }
  }
  for (const env of environments) {
    const merged = mergeLayers([...workspaceLayers(prepared, env), ...tailLayers(prepared, undefined)]);
    problems.push(...validateMerged(SiteConfigSchema, merged, WORKSPACE_FILE).problems);
    for (const name of sites) {
      const layered = await layerSite(prepared, env, name);
      problems.push(...layered.problems);
      if (env === PRODUCTION && layered.context && !layered.context.config.secrets.allowPlaintext) {
        problems.push(..._plaintextProblems(layered.context));
      }
    }
  }
  return { root: prepared.root, environments, sites, problems: dedupeProblems(problems) };
}

// --- internal ---

const PRODUCTION = "production";

/** Plaintext credentials are refused in production (at use too); validate names each with its file and line. */
function _plaintextProblems(site: SiteContext): ConfigProblem[] {
  return plaintextCredentialPaths(site.config).map((path) => {
    const dotted = path.join(".");
    const origin = site.origins.get(dotted);
    return {
      file: origin?.source ?? `sites/${site.name}/site.yaml`,
      line: origin?.line,
      col: origin?.col,
      path: dotted,
      message: `is a plaintext credential, refused in production: move it into the secret store with siteloom secrets migrate --env production (or set secrets.allowPlaintext: true)`,
    };
  });
}
