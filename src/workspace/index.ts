export {
  type ConfigFiles,
  checkConfigFileName,
  type LoadedEnvironments,
  loadAllEnvironments,
  readConfigFiles,
  sameConfigFiles,
  validateConfigFiles,
} from "./config-files.ts";
export { resolveDataDir, type SiteDataPaths, siteDataPaths, stateDirOf } from "./data-dir.ts";
export { type ConfigFollower, type FollowConfigOptions, followConfigVersions } from "./follow-config.ts";
export { type InitResult, type InitWorkspaceOptions, initWorkspace } from "./init.ts";
export {
  findWorkspaceRoot,
  listSiteNames,
  loadWorkspace,
  SITE_FILE,
  SITES_DIR,
  STATE_DIR,
  WORKSPACE_FILE,
} from "./load.ts";
export {
  type AddSiteOptions,
  addSite,
  checkSiteName,
  inspectSite,
  type RemoveSiteOptions,
  removeSite,
  type SiteContents,
} from "./sites.ts";
export { isSharedStore, openWorkspaceAuditTrail, openWorkspaceStore } from "./store.ts";
export type { EnvSource, LoadWorkspaceOptions, Origin, SiteContext, Workspace } from "./types.ts";
export { type ValidateWorkspaceOptions, type ValidationReport, validateWorkspace } from "./validate.ts";
