export { findWorkspaceRoot, loadWorkspace, SITE_FILE, STATE_DIR, WORKSPACE_FILE } from "./load.ts";
export type { LoadWorkspaceOptions, Origin, SiteContext, Workspace } from "./types.ts";
