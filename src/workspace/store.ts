import { openStateStore, type StateStore } from "../store/index.ts";
import type { Workspace } from "./types.ts";

/**
 * Opens the workspace's state store: SITELOOM_STORE when set, else `store.url` of siteloom.yaml (a reference to a
 * postgres:// URL, resolved at first use through the secret store like every credential), else
 * `.siteloom/state.db`. Every command and the server open the store through here, so one setting moves all of them.
 */
export function openWorkspaceStore(workspace: Pick<Workspace, "stateDir" | "config" | "resolve">): StateStore {
  const { url, poolSize } = workspace.config.store;
  if (process.env.SITELOOM_STORE || url === undefined)
    return openStateStore({ stateDir: workspace.stateDir, poolSize });
  return openStateStore({
    stateDir: workspace.stateDir,
    poolSize,
    resolveUrl: async () => (await workspace.resolve(url, { field: "store.url" })).reveal(),
  });
}
