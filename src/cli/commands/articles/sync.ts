import type { StateStore } from "../../../store/index.ts";
import type { CliContext, RegisterCommands } from "../../context.ts";

/** articles export <site> <dir> [--force] and articles import <site> <dir> [--force]: files ⇄ the state store. */
export const registerSyncCommands: RegisterCommands = (articles, ctx) => {
  articles
    .command("export")
    .description("Write a site's articles from the state store (PostgreSQL) into a folder, to edit or keep in git")
    .argument("<site>", "site name")
    .argument("<dir>", "folder to write <slug>.json files into (created when missing)")
    .option("--force", "also overwrite files edited in the folder since they were last exported or imported")
    .action(async (site: string, dir: string, opts: { force?: boolean }) => {
      const { pullArticles } = await import("../../../content/index.ts");
      const report = await _withStore(ctx, site, (store) =>
        pullArticles({ store, site, dir, force: opts.force === true }),
      );
      if (ctx.globals().json) return ctx.printJson(report);
      ctx.print(`${report.written.length} article(s) written, ${report.unchanged} unchanged in ${dir}`);
      for (const slug of report.kept) {
        ctx.warn(`${slug}: edited in ${dir} and changed in the store; kept (import it, or export with --force)`);
      }
    });
  articles
    .command("import")
    .description("Store a folder's articles in the state store (PostgreSQL); refuses articles edited on both sides")
    .argument("<site>", "site name")
    .argument("<dir>", "folder of <slug>.json files (an export, or sites/<name>/articles)")
    .option("--force", "store the folder's version of articles that were also changed in the store")
    .action(async (site: string, dir: string, opts: { force?: boolean }) => {
      const { importArticles } = await import("../../../content/index.ts");
      const report = await _withStore(ctx, site, (store) =>
        importArticles({ store, site, dir, force: opts.force === true }),
      );
      if (ctx.globals().json) return ctx.printJson(report);
      ctx.print(
        `${report.added.length} added, ${report.updated.length} updated, ${report.unchanged} unchanged, ${report.older.length} older copies skipped`,
      );
      for (const slug of report.older)
        ctx.warn(`${slug}: an older copy (the store changed since it was exported); the store's version stays`);
      for (const slug of report.conflicts)
        ctx.warn(`${slug}: edited on both sides; --force stored this folder's version`);
    });
};

// --- internal ---

async function _withStore<T>(ctx: CliContext, site: string, fn: (store: StateStore) => Promise<T>): Promise<T> {
  const [{ openWorkspaceStore }, { articlesInStore }] = await Promise.all([
    import("../../../workspace/index.ts"),
    import("../../../content/index.ts"),
  ]);
  const workspace = await ctx.loadWorkspace();
  await workspace.site(site); // an unknown site is a usage error naming the sites
  const store = openWorkspaceStore(workspace);
  try {
    if (!articlesInStore(store)) {
      const { SiteloomError } = await import("../../../errors.ts");
      throw new SiteloomError(
        "ERR_USAGE",
        `articles live in sites/${site}/articles/ with the embedded store (${store.kind}); export and import move them to and from a PostgreSQL store (store.url in siteloom.yaml)`,
      );
    }
    return await fn(store);
  } finally {
    await store.close();
  }
}
