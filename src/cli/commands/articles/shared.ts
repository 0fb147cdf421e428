import type { ReviewTarget } from "../../../content/index.ts";
import type { Workspace } from "../../../workspace/index.ts";
import type { CliContext } from "../../context.ts";

/**
 * Runs `fn` with the review target of one site: its articles folder, the environment and the actor. With a shared
 * state store (PostgreSQL) the folder is first brought in step with the store's articles, and the store is passed
 * on so that every change is written there too; it is closed afterwards.
 */
export async function withReviewTarget<T>(
  ctx: CliContext,
  site: string,
  fn: (target: ReviewTarget) => Promise<T>,
): Promise<T> {
  const { currentActor } = await import("../../../events.ts");
  const workspace = await ctx.loadWorkspace();
  const dir = (await workspace.site(site)).paths.articles;
  const target: ReviewTarget = { site, dir, env: workspace.env, actor: currentActor(), source: "cli" };
  return withSharedArticles(ctx, workspace, [site], async (store) => fn({ ...target, store }));
}

/**
 * With a shared state store, opens it, brings the articles folders of `sites` in step with it (warning about copies
 * edited here and kept) and runs `fn` with it; with SQLite (the folders are the articles) runs `fn` alone.
 */
export async function withSharedArticles<T>(
  ctx: CliContext,
  workspace: Workspace,
  sites: readonly string[],
  fn: (store: ReviewTarget["store"]) => Promise<T>,
): Promise<T> {
  const [{ isSharedStore, openWorkspaceStore }, { pullSharedArticles }] = await Promise.all([
    import("../../../workspace/index.ts"),
    import("../../../content/index.ts"),
  ]);
  if (!isSharedStore(workspace)) return fn(undefined);
  const store = openWorkspaceStore(workspace);
  try {
    for (const site of sites) {
      const dir = (await workspace.site(site)).paths.articles;
      for (const slug of await pullSharedArticles(store, site, dir)) {
        ctx.warn(
          `${site}/${slug}: edited here and changed in the store; this copy is shown (articles import stores it)`,
        );
      }
    }
    return await fn(store);
  } finally {
    await store.close();
  }
}
