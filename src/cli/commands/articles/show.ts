import type { RegisterCommands } from "../../context.ts";
import { withReviewTarget } from "./shared.ts";

/** articles show <site> <slug> */
export const registerShowCommand: RegisterCommands = (articles, ctx) => {
  articles
    .command("show")
    .description("One article as text, with its status, word count, links, cost and review history")
    .argument("<site>", "site name")
    .argument("<slug>", "article slug")
    .action(async (site: string, slug: string) => {
      const { loadReviewArticle, summarizeArticle } = await import("../../../content/index.ts");
      const article = await withReviewTarget(ctx, site, (target) => loadReviewArticle(target, slug));
      if (ctx.globals().json) {
        ctx.printJson({ ...summarizeArticle(site, article), article });
        return;
      }
      const c = ctx.color;
      ctx.print(c.bold(article.title));
      ctx.print(
        `${site}/${article.slug} · ${article.status} · ${article.wordCount} words · ${article.readingTimeMinutes} min · ` +
          `$${article.usage.costUsd.toFixed(4)} (${article.generatedBy.model})`,
      );
      ctx.print(`published ${article.publishedAt}${article.updatedAt ? ` · updated ${article.updatedAt}` : ""}`);
      ctx.print(`description: ${article.metaDescription}`);
      if (article.tags.length) ctx.print(`tags: ${article.tags.join(", ")}`);
      ctx.print();
      ctx.print(article.bodyMarkdown.trimEnd());
      if (article.faq.length) {
        ctx.print();
        ctx.print(c.bold("FAQ"));
        for (const f of article.faq) ctx.print(`- ${f.question}\n  ${f.answer}`);
      }
      ctx.print();
      ctx.print(c.bold(`links (${article.internalLinks.length})`));
      for (const link of article.internalLinks) ctx.print(`- ${link.anchor} → ${link.url}`);
      if (article.review?.length) {
        ctx.print();
        ctx.print(c.bold("review"));
        for (const r of article.review) {
          ctx.print(`- ${r.at} ${r.by} ${r.action} (${r.from} → ${r.to})${r.reason ? `: ${r.reason}` : ""}`);
        }
      }
    });
};
