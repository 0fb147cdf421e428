import { SiteloomError } from "../../errors.ts";
import { defineStep, type StepContext } from "../types.ts";
import { enrichCacheFile, isEmptyDir } from "./transfer.ts";

/** What `siteloom generate` passes to the generate step (`ctx.options`); `siteloom run` passes none. */
export interface GenerateStepOptions {
  /** Generate at most this many articles. */
  limit?: number;
  /** Regenerate topics whose article exists. */
  force?: boolean;
}

/** Writes one article per new topic of topics.csv (skips topics already written; spends within the budgets). */
export const generateStep = defineStep({
  name: "generate",
  description: "write one article per new topic of topics.csv into sites/<name>/articles/",
  async run(ctx) {
    let total = 0;
    let done = 0;
    let costUsd = 0;
    const flags = ctx.options as GenerateStepOptions;
    // the domains load only when their step runs: `siteloom deploy` never pays for the LLM SDKs and the HTML tools
    const { runGenerate } = await import("../../content/index.ts");
    const report = await runGenerate({
      workspace: ctx.workspace,
      site: ctx.site,
      dryRun: ctx.dryRun,
      signal: ctx.signal,
      ...(flags.limit === undefined ? {} : { limit: flags.limit }),
      ...(flags.force === undefined ? {} : { force: flags.force }),
      onEvent(event) {
        if (event.type === "warning") ctx.warn(event.message);
        if (event.type === "start") total = event.total;
        if (event.type === "generated" || event.type === "failed") {
          done++;
          if (event.type === "generated") costUsd += event.item.costUsd;
          // the bar on a terminal: articles done of the total, the money spent so far, the time left
          ctx.progress({ done, total, unit: "articles", costUsd, message: event.item.slug });
        }
        if (event.type === "generated") {
          const item = event.item;
          const removed = item.removedLinks.length
            ? ` — removed links to missing pages: ${item.removedLinks.join(", ")}`
            : "";
          ctx.info(`✓ ${item.slug} (${item.wordCount} words, $${item.costUsd.toFixed(4)})${removed}`);
        }
        if (event.type === "failed") ctx.warn(`line ${event.item.line} ${event.item.slug}: ${event.item.message}`);
        if (event.type === "retry") ctx.info(`retrying in ${event.delayMs} ms: ${event.reason}`);
      },
    });
    if (ctx.signal.aborted) throw new SiteloomError("ERR_INTERRUPTED", "generation interrupted");
    ctx.detail(report);
    const result = {
      costUsd: report.costUsd,
      counts: ctx.dryRun
        ? { planned: report.planned.length, skipped: report.skipped.length }
        : { generated: report.generated.length, skipped: report.skipped.length, failed: report.failed.length },
      summary: ctx.dryRun
        ? `would generate ${report.planned.length} article(s), estimated ${
            report.estimate.costUsd === null ? "cost unknown" : `$${report.estimate.costUsd.toFixed(4)}`
          } (${report.provider}/${report.model})`
        : `${report.generated.length} generated, ${report.skipped.length} skipped, ${report.failed.length} failed (${report.provider}/${report.model})`,
      plan: ctx.dryRun
        ? report.planned.map(
            (p) =>
              `generate ${p.slug} (“${p.topic}”, ~${p.estimatedOutputTokens} output tokens${p.estimatedCostUsd === null ? "" : `, ~$${p.estimatedCostUsd.toFixed(4)}`})`,
          )
        : [],
    };
    if (report.stopped) throw new SiteloomError(report.stopped.code, report.stopped.message, { site: ctx.site.name });
    if (report.failed.length > 0) {
      throw new SiteloomError(
        "ERR_LLM_OUTPUT",
        `${report.failed.length} topic(s) failed (${report.failed.map((f) => `line ${f.line}`).join(", ")}); run again to retry them`,
        { site: ctx.site.name },
      );
    }
    return result;
  },
});

/** Builds sites/<name>/output/ from export/ and articles/: blog pages, index, sitemap, robots, feeds. */
export const enrichStep = defineStep({
  name: "enrich",
  description: "build sites/<name>/output/: the site plus blog pages, sitemap, robots and feeds",
  async run(ctx) {
    // In a dry run of the whole pipeline, a site never exported has nothing to build from yet: the export above says
    // what it would fetch. Enrich alone reports the missing export.
    if (ctx.dryRun && ctx.previous.export !== undefined && (await isEmptyDir(ctx.site.paths.export))) {
      return { summary: "nothing to build yet: export/ is empty (a real run exports first)" };
    }
    // under review, drafts never reach output/ (what deploy uploads): previews are the console's, not the live site's
    const cfg = ctx.site.config;
    const { reviewRequired } = await import("../../content/index.ts");
    await pullStepArticles(ctx);
    const { runEnrich } = await import("../../enrich/index.ts");
    const held = cfg.enrich.drafts === "preview" && reviewRequired(cfg, ctx.workspace.env);
    const site = held
      ? { ...ctx.site, config: { ...cfg, enrich: { ...cfg.enrich, drafts: "skip" as const } } }
      : ctx.site;
    const report = await runEnrich({
      site,
      dryRun: ctx.dryRun,
      logger: ctx.logger,
      cacheFile: enrichCacheFile(ctx.workspace.stateDir, ctx.site.name),
    });
    ctx.detail(report);
    for (const warning of report.warnings) ctx.warn(warning);
    const a = report.articles;
    const drafts =
      a.drafts === 0
        ? ""
        : site.config.enrich.drafts === "preview"
          ? `, ${a.drafts} draft preview(s)`
          : `, ${a.drafts} draft(s) held back${held ? " for review (content.review: required)" : ""}`;
    return {
      counts: ctx.dryRun
        ? { write: report.written.length, remove: report.removed.length }
        : { written: report.written.length, unchanged: report.unchanged, removed: report.removed.length },
      summary: `${ctx.dryRun ? "would write" : "wrote"} ${report.written.length} file(s), ${report.unchanged} unchanged, ${report.removed.length} ${ctx.dryRun ? "to remove" : "removed"}; ${a.published} article(s) published${drafts}`,
      plan: ctx.dryRun
        ? [...report.removed.map((p) => `remove ${p}`), ...report.written.map((p) => `write  ${p}`)]
        : [],
    };
  },
});

/**
 * Where articles live in the state store (PostgreSQL), brings the site's articles/ folder in step with it before a
 * step reads the folder (enrich, publish): a machine that never generated them builds the same site. Not in a dry run.
 */
export async function pullStepArticles(ctx: StepContext): Promise<void> {
  if (ctx.dryRun) return;
  const { pullSharedArticles: pull } = await import("../../content/index.ts");
  const dir = ctx.site.paths.articles;
  for (const slug of await pull(ctx.store, ctx.site.name, dir)) {
    ctx.warn(
      `${slug}: edited here and changed in the store; this copy is used (\`siteloom articles import ${ctx.site.name} ${dir}\` stores it)`,
    );
  }
}
