import type { EnrichReport } from "../../enrich/index.ts";
import type { CliContext, RegisterCommands } from "../context.ts";

/** enrich (site enrichment) */
export const registerEnrichCommands: RegisterCommands = (program, ctx) => {
  program
    .command("enrich")
    .description(
      "Build sites/<site>/output/: the exported site plus article pages, blog index, feeds, sitemap, robots.txt",
    )
    .argument("<site>", "site name (a folder under sites/)")
    .option("--dry-run", "report what would be written or removed; change nothing")
    .option("--explain", "show which page is the layout and why, the content region, chrome and page-specific parts")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom enrich shop                 # write sites/shop/output/
  $ siteloom enrich shop --dry-run       # what would change, nothing written
  $ siteloom enrich shop --json          # machine-readable report
  $ siteloom enrich shop --explain       # how the layout was learned (changes nothing)

Files that need no change keep their bytes and modification time, so the next deploy uploads little.
Pages with server-side code (<?php, SSI) are left as they are and listed as skipped.`,
    )
    .action(async (siteName: string, opts: { dryRun?: boolean; explain?: boolean }) => {
      const { runStepCommand } = await import("../run-step.ts");
      // --explain is a dry run that shows how the layout was learned instead of the files
      await runStepCommand<EnrichReport>(
        ctx,
        { step: "enrich", site: siteName, dryRun: Boolean(opts.dryRun || opts.explain) },
        (report) => (opts.explain ? _printExplain(ctx, report) : _printReport(ctx, siteName, report)),
      );
    });

  program
    .command("preview")
    .description("Serve sites/<site>/output/ on 127.0.0.1 to look at it before deploying (Ctrl-C stops it)")
    .argument("<site>", "site name (a folder under sites/)")
    .option("--port <port>", "port on 127.0.0.1 (default: a free one)")
    .action(async (siteName: string, opts: { port?: string }) => {
      const workspace = await ctx.loadWorkspace();
      const site = await workspace.site(siteName);
      const { existsSync } = await import("node:fs");
      if (!existsSync(site.paths.output)) {
        const { SiteloomError } = await import("../../errors.ts");
        throw new SiteloomError(
          "ERR_ENRICH",
          `preview: ${site.paths.output} does not exist; run \`siteloom enrich ${site.name}\` first`,
          { site: site.name },
        );
      }
      const { settleOutput, startPreview } = await import("../../enrich/index.ts");
      await settleOutput(site.paths.output); // a killed run's commit, finished before anything is served
      const preview = await startPreview({ dir: site.paths.output, port: opts.port ? Number(opts.port) : 0 });
      ctx.print(`${site.name}: serving ${site.paths.output} at ${preview.url} (Ctrl-C stops it)`);
      await new Promise<void>((resolve) => {
        const stop = () => void preview.close().then(resolve);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });

  program
    .command("check")
    .description(
      "Crawl sites/<site>/output/ and report internal links, images, stylesheets and scripts that lead nowhere",
    )
    .argument("<site>", "site name (a folder under sites/)")
    .action(async (siteName: string) => {
      const workspace = await ctx.loadWorkspace();
      const site = await workspace.site(siteName);
      const { runCheck, settleOutput } = await import("../../enrich/index.ts");
      await settleOutput(site.paths.output);
      const { SiteloomError } = await import("../../errors.ts");
      const cfg = site.config;
      const base = cfg.url ?? (cfg.domain ? `https://${cfg.domain}/` : "https://example.invalid/");
      const report = await runCheck({
        output: site.paths.output,
        exportDir: site.paths.export,
        baseUrl: base.endsWith("/") ? base : `${base}/`,
      });
      if (ctx.globals().json) ctx.printJson(report);
      else {
        ctx.print(
          `${site.name}: ${report.pages} page(s), ${report.references} internal reference(s); ${report.introduced.length} broken by enrichment, ${report.alreadyBroken.length} already broken on the live site`,
        );
        for (const b of report.introduced) ctx.print(`  introduced ${b.page}: ${b.kind} ${b.url} → ${b.target}`);
        for (const b of report.alreadyBroken) ctx.print(`  live site  ${b.page}: ${b.kind} ${b.url} → ${b.target}`);
      }
      if (report.introduced.length > 0) {
        throw new SiteloomError(
          "ERR_ENRICH",
          `check: ${report.introduced.length} broken reference(s) introduced by enrichment in ${site.paths.output}`,
          { site: site.name },
        );
      }
    });
};

// --- internal ---

function _printExplain(ctx: CliContext, report: EnrichReport): void {
  if (ctx.globals().json) {
    ctx.printJson({ site: report.site, layout: report.layout });
    return;
  }
  const c = ctx.color;
  for (const [what, l] of Object.entries(report.layout)) {
    ctx.print(`${c.bold(`${what} pages`)}: layout ${l.page} (${l.why})`);
    ctx.print(`  content region: ${l.region} — ${l.regionWhy}`);
    for (const p of l.chrome) ctx.print(`  ${c.green("chrome")} ${p}`);
    for (const p of l.pageSpecific) ctx.print(`  ${c.yellow("left out")} ${p}`);
  }
  ctx.print(
    "To change it, in site.yaml: enrich.template / enrich.listingTemplate (the page), enrich.contentSelector (the region), enrich.keep / enrich.remove (selectors).",
  );
}

function _printReport(ctx: CliContext, siteName: string, report: EnrichReport): void {
  if (ctx.globals().json) {
    ctx.printJson(report);
    return;
  }
  const c = ctx.color;
  const verb = report.dryRun ? "would write" : "wrote";
  ctx.print(
    `${c.bold(siteName)}: ${report.articles.published} article(s) in the layout of ${report.template} (${report.encoding})`,
  );
  ctx.print(
    `${verb} ${report.written.length} file(s), ${report.unchanged} unchanged, ${report.dryRun ? "would remove" : "removed"} ${report.removed.length}, skipped ${report.skipped.length}`,
  );
  // Per-file lines only while they stay readable; --json has the full lists.
  if (report.written.length + report.removed.length <= 50) {
    for (const p of report.written) ctx.info(`  ${c.green("+")} ${p}`);
    for (const p of report.removed) ctx.info(`  ${c.red("-")} ${p}`);
  }
  for (const s of report.skipped) ctx.print(`  ${c.yellow("skipped")} ${s.path}: ${s.reason}`);
}
