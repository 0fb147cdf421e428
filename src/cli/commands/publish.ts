import type { Command } from "commander";
import type { PublishStepOptions } from "../../pipeline/index.ts";
import type { PublishReport } from "../../publish/index.ts";
import { type RegisterCommands, usageError } from "../context.ts";

interface PublishFlags {
  dryRun?: boolean;
  json?: boolean;
  limit?: string;
  force?: boolean;
}

/** publish (WordPress) */
export const registerPublishCommands: RegisterCommands = (program, ctx) => {
  program
    .command("publish")
    .description("Send the site's ready articles to WordPress as posts (REST API; only what changed)")
    .argument("<site>", "site name")
    .option("--dry-run", "show what would be created, updated or removed; send nothing")
    .option("--json", "machine-readable report")
    .option("--limit <n>", "create or update at most this many posts (the rest wait for the next run)")
    .option("--force", "send every ready article again and look terms and media up again")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom publish shop --dry-run            # the plan; no request is sent
  $ siteloom publish shop                      # create/update posts of ready articles
  $ siteloom --env production publish shop     # with production's wordpress.status
  $ siteloom publish shop --limit 5 --json

Needs wordpress: { url, user, appPassword } in sites/<site>/site.yaml (appPassword a secret:// reference).
Exit codes: 0 ok, 5 WordPress refused the credentials, was unreachable or an article failed, 3 config.`,
    )
    .action(async (siteName: string, flags: PublishFlags, command: Command) => {
      const json = flags.json ?? Boolean(command.optsWithGlobals<{ json?: boolean }>().json);
      const limit = flags.limit === undefined ? undefined : Number(flags.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
        usageError(`--limit expects a whole number of 1 or more, got "${flags.limit}"`);
      }
      const { runStepCommand } = await import("../run-step.ts");
      const options: PublishStepOptions = { ...(limit !== undefined ? { limit } : {}), force: flags.force === true };
      await runStepCommand<PublishReport>(
        ctx,
        { step: "publish", site: siteName, dryRun: flags.dryRun === true, options: { ...options } },
        (report, run) => _print(ctx, report, json, run.runId),
      );
    });
};

// --- internal ---

function _print(ctx: Parameters<RegisterCommands>[1], report: PublishReport, json: boolean, runId: string): void {
  if (json) {
    ctx.printJson({ runId, ...report });
    return;
  }
  ctx.info(`publish ${report.site} (env ${report.env}) → ${report.url}${report.dryRun ? " [dry run]" : ""}`);
  if (report.dryRun) {
    for (const line of report.plan) ctx.print(`would ${line}`);
    ctx.print(`${report.plan.length} change(s) planned, ${report.unchanged.length} unchanged; nothing was sent`);
    return;
  }
  for (const slug of report.created) ctx.print(`created   ${slug}`);
  for (const slug of report.adopted) ctx.print(`adopted   ${slug} (found again by slug and marker)`);
  for (const slug of report.updated) ctx.print(`updated   ${slug}`);
  for (const r of report.removed)
    ctx.print(`${r.to === "trash" ? "trashed" : "unpublished"} ${r.slug} (post ${r.postId})`);
  for (const f of report.failed) ctx.print(`${ctx.color.red("failed")}    ${f.slug}: ${f.message}`);
  ctx.print(
    `${report.created.length} created, ${report.adopted.length} adopted, ${report.updated.length} updated, ${report.unchanged.length} unchanged, ${report.removed.length} removed, ${report.failed.length} failed; media ${report.media.uploaded} uploaded, ${report.media.reused} reused; ${report.requests} request(s), ${report.retries} retries (run ${runId})`,
  );
  if (report.deferred > 0) ctx.print(`${report.deferred} article(s) left for the next run (--limit)`);
}
