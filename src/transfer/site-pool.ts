import { isAbsolute, resolve as resolvePath } from "node:path";
import { SiteloomError } from "../errors.ts";
import type { SiteContext, Workspace } from "../workspace/index.ts";
import { createLazyPool as createRemotePool } from "./lazy-pool.ts";
import { createLocalRemote } from "./local.ts";
import type { RemoteFS, RemotePool } from "./types.ts";

export interface SitePool {
  pool: RemotePool;
  /** Where it points, for the first line a command prints (never credentials). */
  describe: string;
}

export interface OpenSitePoolOptions {
  /** Wraps every connection (statistics, tests counting operations). */
  wrap?: (fs: RemoteFS) => RemoteFS;
}

/**
 * A lazily connecting pool for a site's `remote` section; credentials are resolved through the workspace when the
 * first connection opens, never earlier, and never printed.
 */
export async function openSitePool(
  site: SiteContext,
  ws: Workspace,
  size: number,
  options: OpenSitePoolOptions = {},
): Promise<SitePool> {
  const remote = site.config.remote;
  const wrap = options.wrap ?? ((fs: RemoteFS) => fs);
  if (remote.protocol === "local") {
    const root = isAbsolute(remote.root) ? remote.root : resolvePath(ws.root, remote.root);
    return {
      pool: createRemotePool({ size, connect: async () => wrap(createLocalRemote({ root })) }),
      describe: `local:${root}`,
    };
  }
  if (remote.host === undefined) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `site "${site.name}": remote.host is not set (sites/${site.name}/site.yaml, remote.host)`,
      { site: site.name },
    );
  }
  const createRemote = async (_remote: typeof site.config.remote, _resolve: unknown): Promise<RemoteFS> => {
    throw new SiteloomError("ERR_NOT_IMPLEMENTED", `transfer: ${remote.protocol} is not wired yet`);
  };
  const describe = `${remote.protocol}://${remote.user ? `${remote.user}@` : ""}${remote.host}${remote.port ? `:${remote.port}` : ""}${remote.root.startsWith("/") ? "" : "/"}${remote.root}`;
  return {
    pool: createRemotePool({
      size,
      connect: async () =>
        wrap(await createRemote(remote, (value: string, origin?: string) => ws.resolve(value, origin))),
    }),
    describe,
  };
}
