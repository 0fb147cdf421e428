import type { RegisterCommands } from "../../context.ts";
import { withReviewTarget } from "./shared.ts";

/** articles edit <site> <slug>: $VISUAL / $EDITOR on the Markdown and its metadata, validated on save. */
export const registerEditCommand: RegisterCommands = (articles, ctx) => {
  articles
    .command("edit")
    .description("Edit an article's Markdown and metadata in $EDITOR; an invalid edit leaves the article unchanged")
    .argument("<site>", "site name")
    .argument("<slug>", "article slug")
    .addHelpText(
      "after",
      `
The editor opens a Markdown file whose front matter holds the editable fields (title, metaDescription, excerpt,
keywords, category, tags, faq, author, publishedAt, image, translationKey). On save the whole article is checked;
when a check fails every problem is listed, the article is not changed, and the edited text stays in the file named.`,
    )
    .action(async (site: string, slug: string) => {
      const [{ formatArticleForEdit, loadReviewArticle, saveArticleEdit }, fs, os, path, cp] = await Promise.all([
        import("../../../content/index.ts"),
        import("node:fs/promises"),
        import("node:os"),
        import("node:path"),
        import("node:child_process"),
      ]);
      await withReviewTarget(ctx, site, async (target) => {
        const before = formatArticleForEdit(await loadReviewArticle(target, slug));
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), "siteloom-edit-"));
        const file = path.join(dir, `${slug}.md`);
        await fs.writeFile(file, before, { mode: 0o600 });
        const editor = process.env.VISUAL || process.env.EDITOR || "vi";
        // $EDITOR may carry arguments ("code --wait"), so the shell splits it; the file name is passed apart
        const result = cp.spawnSync("/bin/sh", ["-c", `${editor} "$1"`, "siteloom-edit", file], { stdio: "inherit" });
        if (result.status !== 0) {
          await fs.rm(dir, { recursive: true, force: true });
          const { SiteloomError } = await import("../../../errors.ts");
          throw new SiteloomError(
            "ERR_USAGE",
            `the editor (${editor}) exited with ${result.status ?? result.signal}; nothing was saved`,
          );
        }
        const after = await fs.readFile(file, "utf8");
        if (after === before) {
          await fs.rm(dir, { recursive: true, force: true });
          ctx.print(`${site}/${slug}: no changes`);
          return;
        }
        try {
          const saved = await saveArticleEdit(target, slug, after);
          await fs.rm(dir, { recursive: true, force: true });
          ctx.print(`${site}/${slug}: saved (${saved.wordCount} words, status ${saved.status})`);
        } catch (error) {
          ctx.warn(`your edited text is kept in ${file}`);
          throw error;
        }
      });
    });
};
