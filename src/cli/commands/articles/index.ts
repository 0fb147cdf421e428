import type { RegisterCommands } from "../../context.ts";
import { registerApproveCommand } from "./approve.ts";
import { registerEditCommand } from "./edit.ts";
import { registerListCommand } from "./list.ts";
import { registerRejectCommand } from "./reject.ts";
import { registerShowCommand } from "./show.ts";
import { registerSyncCommands } from "./sync.ts";

/**
 * articles ... (editorial review). One file per verb; the review logic lives in src/content/review.ts so the API
 * and the console use the same operations.
 */
export const registerArticlesCommands: RegisterCommands = (program, ctx) => {
  const articles = program
    .command("articles")
    .description(
      "Review generated articles: list, show, approve, reject, edit (only ready articles go live); export, import",
    )
    .addHelpText(
      "after",
      `
Examples:
  siteloom articles list --status draft
  siteloom articles show shop choosing-a-tent
  siteloom articles approve shop choosing-a-tent
  siteloom articles approve shop --all-drafts
  siteloom articles reject shop tent-myths --reason "off topic"
  EDITOR=nano siteloom articles edit shop choosing-a-tent
  siteloom articles export shop ./shop-articles     (with a PostgreSQL store: the store → files)
  siteloom articles import shop ./shop-articles     (files → the store; edits on both sides are refused)
With content.review: required (the default in production), generated articles start as drafts and only approved
ones are enriched, deployed and published.`,
    );
  // the order `siteloom articles --help` lists them in
  registerListCommand(articles, ctx);
  registerShowCommand(articles, ctx);
  registerApproveCommand(articles, ctx);
  registerRejectCommand(articles, ctx);
  registerEditCommand(articles, ctx);
  registerSyncCommands(articles, ctx);
};
