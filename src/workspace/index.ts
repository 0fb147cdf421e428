export { GITIGNORE_ENTRIES, type InitResult, type InitWorkspaceOptions, initWorkspace } from "./init.ts";
export {
  configError,
  findWorkspaceRoot,
  listSiteNames,
  loadWorkspace,
  SITE_FILE,
  SITES_DIR,
  STATE_DIR,
  WORKSPACE_FILE,
} from "./load.ts";
export { exampleWorkspaceDir, findPackageRoot, schemaRef } from "./package-root.ts";
export {
  type AddSiteOptions,
  addSite,
  checkSiteName,
  inspectSite,
  type RemoveSiteOptions,
  removeSite,
  SITE_NAME_PATTERN,
  type SiteContents,
  TOPICS_HEADER,
} from "./sites.ts";
export { openWorkspaceStore } from "./store.ts";
export type { EnvSource, LoadWorkspaceOptions, Origin, SiteContext, Workspace } from "./types.ts";
export { type ValidateWorkspaceOptions, type ValidationReport, validateWorkspace } from "./validate.ts";
