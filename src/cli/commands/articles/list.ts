import type { ArticleStatus, ArticleSummary } from "../../../content/index.ts";
import { type RegisterCommands, usageError } from "../../context.ts";
import { withSharedArticles } from "./shared.ts";

/** articles list [--site S] [--status draft|ready|rejected] */
export const registerListCommand: RegisterCommands = (articles, ctx) => {
  articles
    .command("list")
    .description("Articles of every site (or one), with status, words, links and cost")
    .option("-s, --site <name>", "only this site")
    .option("--status <status>", "only this status: draft, ready, rejected")
    .action(async (opts: { site?: string; status?: string }) => {
      const { ARTICLE_STATUSES, loadArticles, summarizeArticle } = await import("../../../content/index.ts");
      if (opts.status !== undefined && !ARTICLE_STATUSES.includes(opts.status as ArticleStatus)) {
        usageError(`--status expects ${ARTICLE_STATUSES.join(", ")}, got "${opts.status}"`);
      }
      const workspace = await ctx.loadWorkspace();
      const rows: ArticleSummary[] = [];
      const invalid: string[] = [];
      const sites = opts.site ? [opts.site] : workspace.sites;
      await withSharedArticles(ctx, workspace, sites, async () => {
        for (const name of sites) {
          const site = await workspace.site(name);
          const loaded = await loadArticles(site.paths.articles);
          invalid.push(...loaded.invalid);
          for (const { article } of loaded.articles) {
            if (!opts.status || article.status === opts.status) rows.push(summarizeArticle(name, article));
          }
        }
      });
      for (const line of invalid) ctx.warn(`invalid article skipped: ${line}`);
      if (ctx.globals().json) {
        ctx.printJson({ articles: rows });
        return;
      }
      if (rows.length === 0) {
        ctx.print(`no articles${opts.status ? ` with status ${opts.status}` : ""}`);
        return;
      }
      const { printTable } = await import("../../table.ts");
      printTable(
        ctx,
        ["SITE", "SLUG", "STATUS", "WORDS", "LINKS", "COST", "TITLE"],
        rows.map((r) => [
          r.site,
          r.slug,
          r.status,
          String(r.wordCount),
          String(r.links),
          `$${r.costUsd.toFixed(4)}`,
          r.title,
        ]),
      );
    });
};
