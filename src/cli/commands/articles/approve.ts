import type { ReviewChange } from "../../../content/index.ts";
import { type CliContext, type RegisterCommands, usageError } from "../../context.ts";
import { withReviewTarget } from "./shared.ts";

/** articles approve <site> <slug>... | --all-drafts */
export const registerApproveCommand: RegisterCommands = (articles, ctx) => {
  articles
    .command("approve")
    .description("Mark articles ready: the next enrich, deploy and publish take them live")
    .argument("<site>", "site name")
    .argument("[slugs...]", "article slugs")
    .option("--all-drafts", "every draft of the site")
    .action(async (site: string, slugs: string[], opts: { allDrafts?: boolean }) => {
      if (slugs.length > 0 && opts.allDrafts) usageError("give slugs or --all-drafts, not both");
      if (slugs.length === 0 && !opts.allDrafts) usageError("name the articles to approve, or use --all-drafts");
      const { reviewArticles } = await import("../../../content/index.ts");
      const changes = await withReviewTarget(ctx, site, (target) =>
        reviewArticles({ ...target, action: "approve", slugs, allDrafts: Boolean(opts.allDrafts) }),
      );
      printChanges(ctx, site, changes, "approved");
    });
};

/** Prints what a review command changed (or the JSON list with --json). */
export function printChanges(ctx: CliContext, site: string, changes: ReviewChange[], verb: string): void {
  if (ctx.globals().json) {
    ctx.printJson({ site, changes });
    return;
  }
  if (changes.length === 0) ctx.print(`${site}: nothing to do (no drafts)`);
  for (const c of changes) {
    ctx.print(c.changed ? `${site}/${c.slug}: ${verb} (was ${c.from})` : `${site}/${c.slug}: already ${c.to}`);
  }
}
