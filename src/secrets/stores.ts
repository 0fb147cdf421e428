import { join } from "node:path";
import { updateConfigFile, WORKSPACE_FILE } from "../config/index.ts";
import { type SecretsWorkspace, storeConfig } from "./registry.ts";

/**
 * Makes a configured store the default: writes `secrets.backend` in siteloom.yaml through the one config write path
 * (comments kept, atomic, audited). Throws ERR_CONFIG_INVALID for a store that is not configured.
 */
export async function useSecretStore(
  workspace: SecretsWorkspace,
  name: string,
): Promise<{ file: string; changed: boolean }> {
  storeConfig(workspace, name);
  const { changed } = await updateConfigFile(
    join(workspace.root, WORKSPACE_FILE),
    (doc) => {
      doc.setIn(["secrets", "backend"], name);
      return undefined;
    },
    { env: workspace.env, ref: WORKSPACE_FILE, detail: "secrets.backend" },
  );
  return { file: WORKSPACE_FILE, changed };
}
