import type { RegisterCommands } from "../../context.ts";
import { printChanges } from "./approve.ts";
import { withReviewTarget } from "./shared.ts";

/** articles reject <site> <slug> [--reason R] */
export const registerRejectCommand: RegisterCommands = (articles, ctx) => {
  articles
    .command("reject")
    .description("Keep an article out of the site; its topic is not generated again unless generate --force")
    .argument("<site>", "site name")
    .argument("<slug>", "article slug")
    .option("--reason <text>", "why (kept in the article's review history)")
    .action(async (site: string, slug: string, opts: { reason?: string }) => {
      const { reviewArticles } = await import("../../../content/index.ts");
      const changes = await withReviewTarget(ctx, site, (target) =>
        reviewArticles({ ...target, action: "reject", slugs: [slug], reason: opts.reason }),
      );
      printChanges(ctx, site, changes, "rejected");
    });
};
