import { Option } from "commander";
import type { GenerateReport } from "../../content/index.ts";
import type { GenerateStepOptions } from "../../pipeline/index.ts";
import { type RegisterCommands, usageError } from "../context.ts";

/** generate, costs (article generation) */
export const registerGenerateCommands: RegisterCommands = (program, ctx) => {
  program
    .command("generate")
    .description("Write one JSON article per row of sites/<site>/topics.csv (outline → article, via llm.provider)")
    .argument("<site>", "site name (a folder under sites/)")
    .option("-n, --limit <n>", "generate at most N articles this run")
    .option("-f, --force", "regenerate topics whose article already exists")
    .option("--dry-run", "list the topics that would be generated with estimated tokens and cost; spend nothing")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom generate shop --dry-run          # what would be generated, and the estimated cost
  $ siteloom generate shop --limit 5          # the first five pending topics
  $ siteloom generate shop --force --json     # regenerate everything, machine-readable report

Finished topics are skipped, so an interrupted run is resumed by running it again.
Exit codes: 0 all generated or skipped, 1 some topics failed, 3 topics.csv is invalid, 4 the API key was refused
(the run stops at the first refusal), 6 a budget stopped (or, with --dry-run, would stop) the run.`,
    )
    .action(async (siteName: string, opts: { limit?: string; force?: boolean; dryRun?: boolean }) => {
      const json = Boolean(ctx.globals().json);
      let limit: number | undefined;
      if (opts.limit !== undefined) {
        if (!/^\d+$/.test(opts.limit)) usageError(`--limit expects a whole number, got "${opts.limit}"`);
        limit = Number(opts.limit);
      }
      const { runStepCommand } = await import("../run-step.ts");
      const options: GenerateStepOptions = {
        ...(limit === undefined ? {} : { limit }),
        ...(opts.force ? { force: true } : {}),
      };
      // a budget stop (exit 6) or failed topics (exit 1) are thrown after the report is printed
      await runStepCommand<GenerateReport>(
        ctx,
        { step: "generate", site: siteName, dryRun: opts.dryRun === true, options: { ...options } },
        (report) => (json ? ctx.printJson(report) : _printReport(report, ctx)),
      );
    });

  program
    .command("costs")
    .description("Report model spend from the cost ledger (in the state store, .siteloom/state.db)")
    .option("-s, --site <name>", "only this site")
    .addOption(new Option("-m, --month <yyyy-mm>", "calendar month (UTC), or `all`").default(undefined, "this month"))
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom costs                    # this month, every site
  $ siteloom costs --site shop --month 2026-10
  $ siteloom costs --month all --json`,
    )
    .action(async (opts: { site?: string; month?: string }) => {
      const { createLedger, currentMonth, summarizeCosts } = await import("../../content/index.ts");
      const month = opts.month ?? currentMonth();
      if (month !== "all" && !/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) {
        usageError(`--month expects YYYY-MM or all, got "${month}"`);
      }
      const workspace = await ctx.loadWorkspace();
      const { openWorkspaceStore } = await import("../../workspace/index.ts");
      const store = openWorkspaceStore(workspace);
      const entries = await createLedger(workspace.stateDir, store)
        .read()
        .finally(() => store.close());
      // a removed site's spend stays reportable; an unknown name that never spent anything is a typo
      if (opts.site && !entries.some((e) => e.site === opts.site)) await workspace.site(opts.site);
      const summary = summarizeCosts(entries, { ...(opts.site ? { site: opts.site } : {}), month });
      const budget = workspace.config.budgets.maxMonthlyCost;
      const monthSpent = month === "all" ? undefined : summarizeCosts(entries, { month }).total.costUsd;
      const budgetInfo =
        budget !== undefined && monthSpent !== undefined
          ? { maxMonthlyCost: budget, spentUsd: monthSpent, leftUsd: _left(budget, monthSpent) }
          : undefined;
      // a site may set its own monthly limit (site.yaml); it is checked against the same workspace-wide spend
      const siteBudgets: { site: string; maxMonthlyCost: number; spentUsd: number; leftUsd: number }[] = [];
      if (monthSpent !== undefined) {
        for (const name of opts.site ? [opts.site] : workspace.sites) {
          if (!workspace.sites.includes(name)) continue;
          const own = (await workspace.site(name)).config.budgets.maxMonthlyCost;
          if (own === undefined || own === budget) continue;
          siteBudgets.push({ site: name, maxMonthlyCost: own, spentUsd: monthSpent, leftUsd: _left(own, monthSpent) });
        }
      }
      if (ctx.globals().json) {
        ctx.printJson({
          ...summary,
          ...(budgetInfo ? { budget: budgetInfo } : {}),
          ...(siteBudgets.length ? { budgets: siteBudgets } : {}),
        });
        return;
      }
      if (summary.rows.length === 0) {
        ctx.print(
          `no model calls recorded${opts.site ? ` for ${opts.site}` : ""} in ${month === "all" ? "the ledger" : month}`,
        );
      } else {
        const rows = summary.rows.map((r) => [
          r.site,
          r.model,
          String(r.calls),
          String(r.inputTokens),
          String(r.outputTokens),
          `$${r.costUsd.toFixed(4)}`,
        ]);
        const t = summary.total;
        rows.push([
          "total",
          "",
          String(t.calls),
          String(t.inputTokens),
          String(t.outputTokens),
          `$${t.costUsd.toFixed(4)}`,
        ]);
        _table(["site", "model", "calls", "input tokens", "output tokens", "cost"], rows, ctx.print);
      }
      if (budgetInfo) {
        ctx.print(
          `monthly budget $${budget}: $${budgetInfo.spentUsd.toFixed(4)} spent, $${budgetInfo.leftUsd.toFixed(4)} left`,
        );
      }
      for (const b of siteBudgets) {
        ctx.print(
          `${b.site}: monthly budget $${b.maxMonthlyCost}: $${b.spentUsd.toFixed(4)} spent, $${b.leftUsd.toFixed(4)} left (site.yaml; all sites' spend counts)`,
        );
      }
    });
};

// --- internal ---

function _left(budget: number, spent: number): number {
  return Math.max(0, Math.round((budget - spent) * 1e6) / 1e6);
}

function _printReport(report: GenerateReport, ctx: Parameters<RegisterCommands>[1]): void {
  const c = ctx.color;
  for (const s of report.skipped) {
    if (s.reason !== "limit" && s.reason !== "stopped")
      ctx.print(
        `${c.dim("skip")} line ${s.line} ${s.slug}: ${s.reason === "exists" ? `done (${s.detail})` : s.reason === "rejected" ? s.detail : `duplicate — ${s.detail}`}`,
      );
  }
  if (report.dryRun) {
    for (const p of report.planned) {
      ctx.print(
        `would generate line ${p.line} ${p.slug}: ~${p.estimatedInputTokens} input + ~${p.estimatedOutputTokens} output tokens, ${p.estimatedCostUsd === null ? "cost unknown" : `~$${p.estimatedCostUsd.toFixed(4)}`}`,
      );
    }
    const e = report.estimate;
    ctx.print(
      `dry run: ${report.planned.length} article(s) with ${report.provider} ${report.model}, ~${e.inputTokens} input + ~${e.outputTokens} output tokens, estimated ${e.costUsd === null ? "cost unknown (no price for the model)" : `$${e.costUsd.toFixed(4)}`}; nothing was spent`,
    );
    if (report.month.budgetUsd !== null) {
      ctx.print(
        `monthly budget $${report.month.budgetUsd}: $${report.month.spentUsd.toFixed(4)} spent, $${(report.month.leftUsd ?? 0).toFixed(4)} left${report.stopped ? "" : `, ~$${(e.costUsd ?? 0).toFixed(4)} of it needed`}`,
      );
    }
    return;
  }
  const limited = report.skipped.filter((s) => s.reason === "limit").length;
  const stopped = report.skipped.filter((s) => s.reason === "stopped").length;
  ctx.print(
    `${report.site}: ${report.generated.length} generated, ${report.skipped.length - limited - stopped} skipped, ${report.failed.length} failed${stopped ? `, ${stopped} not started` : ""}${limited ? `, ${limited} left for later (--limit)` : ""}; spent $${report.costUsd.toFixed(4)}`,
  );
  for (const f of report.failed) ctx.print(`${c.red("failed")} line ${f.line} ${f.slug}: ${f.message}`);
}

function _table(header: string[], rows: string[][], print: (line: string) => void): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ");
  print(line(header));
  for (const row of rows) print(line(row));
}
