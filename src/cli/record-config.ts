// A CLI command that writes configuration files (init --force, site add, site remove, secrets migrate, secrets backend
// use) records them as a configuration version, as the API's writes do, so every serve and worker following the store
// takes them.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { STATE_DB_FILE } from "../store/index.ts";
import type { Workspace } from "../workspace/index.ts";
import type { CliContext } from "./context.ts";

export interface RecordedWriteOptions {
  /** The workspace root. */
  root: string;
  /** What changed, kept with the version ("siteloom site add shop"). */
  message: string;
  /** The workspace the command loaded already. @default ctx.loadWorkspace() */
  workspace?: Workspace;
  /**
   * Configuration files (relative names, `sites/shop/site.yaml`) the write creates with their folder: locked as the
   * present ones are (a site.yaml's lock lives beside its folder), so a process following the store on the same folder
   * waits until the new version is recorded, and no removal of a site of the same name is half done meanwhile.
   */
  creates?: readonly string[];
  /** Configuration files the write deletes with their folder: locked likewise. */
  deletes?: readonly string[];
}

/**
 * Runs `write` holding the locks of the workspace's configuration files (siteloom.yaml, every site.yaml), then, still holding them, records the files as a new version (source `cli`, the actor, the
 * message) exactly as `siteloom config push` does: validated first, nothing recorded when they equal the latest
 * version. Holding the locks until the version is recorded keeps a process following the store on the same folder
 * from writing the store's older version over the change meanwhile.
 *
 * The state store is reached before the locks are taken (its URL may be a reference whose secret store asks for a
 * passphrase); `write` itself must not ask anything (plan first, then apply).
 *
 * A workspace with no state yet (SQLite and no `.siteloom/state.db`) records nothing: the first `serve` records its
 * files. The files stay written when recording fails (invalid configuration, store unreachable): one warning line
 * says so and names `siteloom config push`.
 */
export async function writeConfigRecorded<T>(
  ctx: CliContext,
  options: RecordedWriteOptions,
  write: () => Promise<T>,
): Promise<T> {
  const [{ withConfigFileLock }, workspaceModule, { pushConfigFiles }] = await Promise.all([
    import("../config/index.ts"),
    import("../workspace/index.ts"),
    import("../server/index.ts"),
  ]);
  const { isSharedStore, openWorkspaceStore, readConfigFiles } = workspaceModule;
  const workspace =
    options.workspace ??
    (await ctx.loadWorkspace({ alerts: false, workspace: options.root }).catch((error: unknown) => _asError(error)));
  const unrecorded = (reason: string) =>
    ctx.warn(
      `the configuration files were written but not recorded as a version (${reason}); run siteloom config push`,
    );
  if (workspace instanceof Error) {
    const value = await write();
    unrecorded(workspace.message);
    return value;
  }
  if (!isSharedStore(workspace) && !existsSync(join(workspace.stateDir, STATE_DB_FILE))) return write();
  const present = Object.keys(await readConfigFiles(options.root).catch(() => ({})));
  const names = [...present, ...(options.creates ?? []), ...(options.deletes ?? [])];
  const files = names.map((name) => join(options.root, name));
  const store = openWorkspaceStore(workspace);
  try {
    // reached before the locks: its URL may be a reference whose secret store asks for a passphrase, and an
    // unreachable server is retried for a while; neither should keep other processes from the files meanwhile
    const unreachable = await store.latestConfigVersion().then(
      () => undefined,
      (error: unknown) => _asError(error),
    );
    return await withConfigFileLock(files, async () => {
      const before = await readConfigFiles(options.root);
      const value = await write();
      try {
        if (unreachable) throw unreachable;
        await pushConfigFiles({ root: options.root, store, message: options.message, before });
      } catch (error) {
        unrecorded(_asError(error).message);
      }
      return value;
    });
  } finally {
    await store.close();
  }
}

function _asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
