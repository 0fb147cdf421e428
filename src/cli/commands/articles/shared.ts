import type { ReviewTarget } from "../../../content/index.ts";
import type { CliContext } from "../../context.ts";

/** The review target of one site for this command: its articles folder, the environment and the actor. */
export async function loadReviewTarget(ctx: CliContext, site: string): Promise<ReviewTarget> {
  const { currentActor } = await import("../../../events.ts");
  const workspace = await ctx.loadWorkspace();
  const siteContext = await workspace.site(site);
  return { site, dir: siteContext.paths.articles, env: workspace.env, actor: currentActor(), source: "cli" };
}
