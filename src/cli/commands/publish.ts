import type { Command } from "commander";
import { SiteloomError } from "../../errors.ts";
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
      const workspace = await ctx.loadWorkspace();
      await workspace.site(siteName);
      const [{ createPublishStep, reconcileStaleRuns, runPipeline }, { isProcessAlive, openStateStore }] =
        await Promise.all([import("../../pipeline/index.ts"), import("../../store/index.ts")]);
      const store = openStateStore({ stateDir: workspace.stateDir });
      let report: PublishReport | undefined;
      const controller = new AbortController();
      const onSignal = (signal: NodeJS.Signals) =>
        controller.abort(new SiteloomError("ERR_INTERRUPTED", `interrupted by ${signal}`));
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await reconcileStaleRuns(store, isProcessAlive);
        const run = await runPipeline({
          workspace,
          sites: [siteName],
          registry: [
            createPublishStep({
              ...(limit !== undefined ? { limit } : {}),
              force: flags.force === true,
              onReport: (r) => {
                report = r;
              },
            }),
          ],
          steps: ["publish"],
          store,
          dryRun: Boolean(flags.dryRun),
          signal: controller.signal,
          recordOptions: { command: "publish", limit: limit ?? null, force: flags.force === true },
          onEvent(event) {
            if (json) return;
            if (event.type === "step-log") (event.level === "warn" ? ctx.warn : ctx.info)(event.message);
          },
        });
        const step = run.sites[0]?.steps.find((s) => s.step === "publish");
        if (report) _print(ctx, report, json, run.run.id);
        if (run.exitCode !== 0) {
          const failure = run.sites[0];
          throw new SiteloomError(
            (step?.errorCode ?? failure?.errorCode ?? "ERR_PUBLISH_FAILED") as SiteloomError["code"],
            step?.error ?? failure?.error ?? "publish failed",
            { site: siteName, details: report?.failed.map((f) => `  ${f.slug}: ${f.message}`) ?? [] },
          );
        }
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await store.close();
      }
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
