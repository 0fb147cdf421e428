import { isAbsolute, resolve as resolvePath } from "node:path";
import type { SiteContext, Workspace } from "../workspace/index.ts";
import { type CreateRemoteOptions, createRemoteConnector } from "./connect.ts";
import { resolveBackupRoot } from "./deploy/backup-root.ts";
import { createLocalRemote } from "./local.ts";
import type { UnsafeEntry } from "./paths.ts";
import { createRemotePool } from "./pool.ts";
import type { RemoteFS, RemotePool } from "./types.ts";

export interface SitePool {
  pool: RemotePool;
  /** Where it points, for the first line a command prints (never credentials). */
  describe: string;
  /** Listing entries the backend refused for safety (names with `..`, control characters, escaping symlinks). */
  unsafe: UnsafeEntry[];
}

export interface OpenSitePoolOptions extends Pick<CreateRemoteOptions, "warn" | "debug" | "acceptNew"> {
  /** Wraps every connection (statistics, tests counting operations). */
  wrap?: (fs: RemoteFS) => RemoteFS;
}

/**
 * A lazily connecting pool for a site's `remote` section (a run that needs one request logs in once). Credentials
 * are resolved through the workspace (`secret://`, `${ENV}`) and never printed. A relative `local` root is taken
 * from the workspace root.
 */
export async function openSitePool(
  site: SiteContext,
  ws: Workspace,
  size: number,
  options: OpenSitePoolOptions = {},
): Promise<SitePool> {
  const remote = site.config.remote;
  const wrap = options.wrap ?? ((fs: RemoteFS) => fs);
  const unsafe: UnsafeEntry[] = [];
  if (remote.protocol === "local") {
    const root = isAbsolute(remote.root) ? remote.root : resolvePath(ws.root, remote.root);
    const backupDir = site.config.deploy.backupDir;
    const backupRoot = resolveBackupRoot(
      root,
      backupDir === "auto" || backupDir === "inside" || isAbsolute(backupDir)
        ? backupDir
        : resolvePath(ws.root, backupDir),
    );
    return {
      pool: createRemotePool({
        size,
        connect: async () => wrap(createLocalRemote({ root, backupRoot, onUnsafe: (entry) => unsafe.push(entry) })),
      }),
      describe: `local:${root}`,
      unsafe,
    };
  }
  const connect = await createRemoteConnector(remote, (value, field) => ws.resolve(value, { field, site: site.name }), {
    onUnsafe: (entry) => unsafe.push(entry),
    backupRoot: resolveBackupRoot(remote.root, site.config.deploy.backupDir),
    ...(options.warn ? { warn: options.warn } : {}),
    ...(options.debug ? { debug: options.debug } : {}),
    ...(options.acceptNew !== undefined ? { acceptNew: options.acceptNew } : {}),
  });
  const root = remote.root.startsWith("/") ? remote.root : `/${remote.root}`;
  const describe = `${remote.protocol}://${remote.user ? `${remote.user}@` : ""}${remote.host}${remote.port ? `:${remote.port}` : ""}${root}`;
  return { pool: createRemotePool({ size, connect: async () => wrap(await connect()) }), describe, unsafe };
}
