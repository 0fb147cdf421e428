import type { CredentialUse, Origin, SecretResolver } from "../config/index.ts";

export type { CredentialUse } from "../config/index.ts";

import type { SiteConfig, WorkspaceConfig } from "../config/index.ts";

export type { Origin } from "../config/index.ts";

/** Where the active environment was chosen: --env, SITELOOM_ENV, `environment:` in siteloom.yaml, or the default. */
export type EnvSource = "flag" | "variable" | "file" | "default";

export interface LoadWorkspaceOptions {
  /** Directory to start the upward search from. @default process.cwd() */
  cwd?: string;
  /** Explicit workspace root (`--workspace`); wins over SITELOOM_WORKSPACE and the search. */
  workspace?: string | undefined;
  /** Environment name (`--env`); wins over SITELOOM_ENV and `environment:`. */
  env?: string | undefined;
  /** Variables read for SITELOOM_* overrides and `${NAME}` references. @default process.env */
  vars?: Record<string, string | undefined>;
  /** Values from command-line flags, as dotted paths: `{ "deploy.parallel": 4 }`; highest layer. */
  flags?: Record<string, unknown>;
  /**
   * Resolver for `secret://` references (the secrets layer plugs in here), or a factory called once with the loaded
   * workspace, since which store to use is itself configuration.
   */
  secrets?: SecretResolver | ((workspace: Workspace) => SecretResolver);
}

/** One site of a workspace, its configuration fully layered and validated. */
export interface SiteContext {
  name: string;
  /** Absolute path of sites/<name>/. */
  dir: string;
  config: SiteConfig;
  /** Dotted path → origin of every leaf value. */
  origins: Map<string, Origin>;
  /**
   * Absolute paths: export/, articles/ and output/ in `data` (sites/<name>/, or <data dir>/<name>/ when the
   * workspace has a data folder), and the configuration files topics.csv and site.yaml, always in sites/<name>/.
   */
  paths: { data: string; export: string; articles: string; output: string; topics: string; siteFile: string };
}

export interface Workspace {
  /** Absolute path of the workspace root (the folder holding siteloom.yaml). */
  root: string;
  /** The data folder (SITELOOM_DATA_DIR or paths.data, absolute); undefined: data beside the configuration. */
  dataDir: string | undefined;
  /** Absolute path of .siteloom/ (mode 0700): <root>/.siteloom, or <data dir>/.siteloom. */
  stateDir: string;
  /** The active environment. */
  env: string;
  /** Where the active environment came from. */
  envSource: EnvSource;
  /** Known environment names (`profiles:`). */
  profiles: string[];
  /** The workspace configuration (no site layer). */
  config: WorkspaceConfig;
  /** Dotted path → origin of every leaf value of `config`. */
  origins: Map<string, Origin>;
  /** Site names, sorted. */
  sites: string[];
  /** Loads and validates one site; throws ERR_SITE_NOT_FOUND / ERR_CONFIG_INVALID. */
  site(name: string): Promise<SiteContext>;
  /**
   * Resolves a credential value from config (a reference or a literal) at use. `use` says which field of which
   * site the value comes from: a reference that may not be used there is refused (ERR_REFERENCE_FORBIDDEN).
   */
  resolve(value: string, use: CredentialUse): Promise<import("../secret.ts").Secret>;
}
