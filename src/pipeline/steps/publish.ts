import { SiteloomError } from "../../errors.ts";
import { defineStep, type StepContext, type StepResult } from "../types.ts";
import { pullStepArticles } from "./content.ts";

/** `siteloom publish` flags the step reads from `ctx.options` (`siteloom run` leaves them unset). */
export interface PublishStepOptions {
  /** At most this many creates + updates. */
  limit?: number;
  /** Send every ready article again. */
  force?: boolean;
}

/** Publishes a site's ready articles to WordPress (after enrich; with features.autoPublish or --steps). */
export const publishStep = defineStep({
  name: "publish",
  description: "send ready articles to WordPress as posts (only what changed)",
  skip(site, explicit) {
    if (!site.config.wordpress) return explicit ? undefined : "no wordpress: section";
    return site.config.features.autoPublish || explicit
      ? undefined
      : "features.autoPublish is off; run with --steps …,publish to publish";
  },
  run: (ctx) => _publish(ctx),
});

// --- internal ---

async function _publish(ctx: StepContext): Promise<StepResult> {
  const options = ctx.options as PublishStepOptions;
  await pullStepArticles(ctx);
  const { runPublish } = await import("../../publish/index.ts");
  const report = await runPublish({
    workspace: ctx.workspace,
    site: ctx.site,
    store: ctx.store,
    dryRun: ctx.dryRun,
    limit: options.limit,
    force: options.force === true,
    signal: ctx.signal,
    onEvent(event) {
      if (event.type === "progress") {
        ctx.progress({ done: event.done, total: event.total, unit: "articles", message: event.slug });
      } else if (event.type === "warn") ctx.warn(event.message);
      else ctx.info(event.message);
    },
  });
  ctx.detail(report);
  if (report.failed.length > 0) {
    throw new SiteloomError(
      "ERR_PUBLISH_FAILED",
      `${report.failed.length} article(s) could not be published; run again to retry them`,
      { site: ctx.site.name, details: report.failed.map((f) => `  ${f.slug}: ${f.message}`) },
    );
  }
  return {
    counts: ctx.dryRun
      ? { planned: report.plan.length, unchanged: report.unchanged.length }
      : {
          created: report.created.length,
          adopted: report.adopted.length,
          updated: report.updated.length,
          unchanged: report.unchanged.length,
          removed: report.removed.length,
          failed: report.failed.length,
          requests: report.requests,
        },
    plan: ctx.dryRun ? report.plan : [],
    summary: ctx.dryRun
      ? `would send ${report.plan.length} change(s) to ${report.url}, ${report.unchanged.length} unchanged`
      : `${report.created.length} created, ${report.adopted.length} adopted, ${report.updated.length} updated, ${report.unchanged.length} unchanged, ${report.removed.length} removed (${report.requests} requests)`,
  };
}
