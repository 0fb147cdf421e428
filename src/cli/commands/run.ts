import { SiteloomError } from "../../errors.ts";
import type { PipelineEvent } from "../../pipeline/index.ts";
import type { RunRecord, StateStore } from "../../store/index.ts";
import { type CliContext, type RegisterCommands, usageError } from "../context.ts";
import { releaseRunOnForcedExit } from "../forced-exit.ts";

/**
 * The built-in step names for `run --help`. Written out because the pipeline module (which has STEP_NAMES) pulls in
 * every domain and is loaded only when a command runs; `--steps` itself is checked against the pipeline's list.
 */
const STEP_NAMES = ["export", "generate", "enrich", "deploy", "publish"];

interface RunFlags {
  all?: boolean;
  steps?: string;
  concurrency?: string;
  dryRun?: boolean;
  wait?: string;
  queue?: boolean;
}

/** run, runs, runs show (pipeline) */
export const registerRunCommands: RegisterCommands = (program, ctx) => {
  program
    .command("run")
    .description("run the pipeline (export → generate → enrich → deploy) for some sites or all")
    .argument("[sites...]", "sites to run")
    .option("-a, --all", "run every site of the workspace")
    .option("-s, --steps <list>", `steps to run, comma-separated (${STEP_NAMES.join(",")})`)
    .option("-c, --concurrency <n>", "sites run at once", "2")
    .option("-n, --dry-run", "change no remote and spend nothing; print what each step would do")
    .option("--wait <seconds>", "wait this long for a site another run holds, instead of failing at once")
    .option("-q, --queue", "enqueue one job per site for `siteloom worker` processes and print the run ids")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom run example                      # all steps for one site
  $ siteloom run --all --concurrency 4        # every site, four at a time
  $ siteloom run shop --steps export,enrich   # only these steps
  $ siteloom run --all --dry-run              # what would be uploaded, generated, written
  $ siteloom run --all --json | jq .type      # one JSON event per line
  $ siteloom run --all --queue                # enqueue for the workers; follow with siteloom runs --follow <id>

Exit code: 0 when every site succeeded; 130 when interrupted (Ctrl-C); else the code of the first failure.
`,
    )
    .action(async (sites: string[], flags: RunFlags) => {
      await _run(ctx, sites, flags);
    });

  const runs = program
    .command("runs")
    .description("list recorded runs, or show one")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom runs                     # the last 20 runs
  $ siteloom runs --site shop --json
  $ siteloom runs show 20261125-2107  # one run (a unique id prefix is enough)`,
    );
  runs
    .command("list", { isDefault: true })
    .description("list recorded runs, newest first")
    .option("--site <name>", "only runs that included this site")
    .option("--limit <n>", "at most this many", "20")
    .option("--follow <id>", "stream the progress of a queued run wherever it runs, until it ends")
    .option("--failed", "list the queued runs whose retries are spent (the dead letters)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ siteloom runs list --site shop --limit 5\n  $ siteloom runs --follow 20261125-210726-3f9a\n  $ siteloom runs --failed",
    )
    .action(async (flags: { site?: string; limit: string; follow?: string; failed?: boolean }) => {
      if (flags.follow !== undefined || flags.failed) {
        const { followQueuedRun, listFailedRuns } = await import("./queue.ts");
        if (flags.follow !== undefined) return followQueuedRun(ctx, flags.follow);
        return listFailedRuns(ctx, _positiveInt(flags.limit, "--limit"));
      }
      await _withStore(ctx, async (store) => {
        const { formatCost, formatDuration, formatTable } = await import("../progress/index.ts");
        const limit = _positiveInt(flags.limit, "--limit");
        const list = await store.listRuns({ ...(flags.site ? { site: flags.site } : {}), limit });
        if (ctx.globals().json) return ctx.printJson(list);
        if (list.length === 0) return ctx.info("no runs recorded yet; start one with siteloom run <site>");
        const rows = [["ID", "STATUS", "ENV", "SITES", "STEPS", "STARTED", "TIME", "COST"]];
        for (const run of list) {
          rows.push([
            run.id,
            _status(ctx, run.status) + (run.dryRun ? " (dry)" : ""),
            run.env,
            run.sites.join(","),
            run.steps.join(","),
            run.started.replace("T", " ").slice(0, 19),
            run.finished ? formatDuration(Date.parse(run.finished) - Date.parse(run.started)) : "",
            formatCost(run.costUsd),
          ]);
        }
        for (const line of formatTable(rows)) ctx.print(line);
      });
    });
  runs
    .command("show")
    .description("show one run: every site and step with status, counts, bytes, cost, duration and errors")
    .argument("<id>", "run id or a unique prefix of it")
    .addHelpText("after", "\nExample:\n  $ siteloom runs show 20261125-2107 --json")
    .action(async (id: string) => {
      await _withStore(ctx, async (store) => {
        const { formatRunSummary } = await import("../progress/index.ts");
        const run = await store.findRun(id);
        if (!run) throw new SiteloomError("ERR_USAGE", `no run "${id}"; list them with siteloom runs`);
        const steps = await store.listSteps(run.id);
        if (ctx.globals().json) return ctx.printJson({ ...run, stepResults: steps });
        ctx.print(`run ${run.id} ${_status(ctx, run.status)}${run.dryRun ? " (dry run)" : ""}`);
        ctx.print(`  env ${run.env}; started ${run.started} by ${run.actor} (pid ${run.pid})`);
        if (run.finished) ctx.print(`  finished ${run.finished}`);
        if (run.error) ctx.print(`  ${run.error}`);
        ctx.print("");
        const sites = run.sites.map((site) => {
          const siteSteps = steps.filter((s) => s.site === site);
          const status = siteSteps.some((s) => s.status === "failed")
            ? "failed"
            : siteSteps.some((s) => s.status === "interrupted")
              ? "interrupted"
              : "succeeded";
          return { site, status: status as "failed" | "interrupted" | "succeeded", steps: siteSteps };
        });
        // The summary's last line repeats the header; the table is what matters here.
        for (const line of formatRunSummary({ run, sites }, ctx.color).slice(0, -2)) ctx.print(line);
        for (const step of steps) {
          if (step.plan.length === 0) continue;
          ctx.print("");
          ctx.print(`${step.site} ${step.step} would:`);
          for (const item of step.plan) ctx.print(`  ${item}`);
        }
      });
    });
};

// --- internal ---

/** Runs the pipeline; a run that did not succeed is thrown (program.ts turns it into the exit code). */
async function _run(ctx: CliContext, names: string[], flags: RunFlags): Promise<void> {
  const globals = ctx.globals();
  const [
    { BUILTIN_STEPS, reconcileStaleRuns, resolveStepNames, runPipeline, siteLockName },
    { isProcessAlive },
    { createProgressRenderer, formatRunSummary },
    { openWorkspaceStore },
  ] = await Promise.all([
    import("../../pipeline/index.ts"),
    import("../../store/index.ts"),
    import("../progress/index.ts"),
    import("../../workspace/index.ts"),
  ]);
  if (flags.all && names.length > 0) usageError("give site names or --all, not both");
  const requested = flags.steps === undefined ? undefined : _list(flags.steps);
  // Checked before loading anything, so a typo fails fast with the list of steps.
  resolveStepNames(BUILTIN_STEPS, requested);
  const concurrency = _positiveInt(flags.concurrency ?? "2", "--concurrency");
  const waitMs = flags.wait === undefined ? 0 : _positiveInt(flags.wait, "--wait", true) * 1000;
  const workspace = await ctx.loadWorkspace();
  const sites = flags.all ? workspace.sites : names;
  if (sites.length === 0) {
    if (flags.all) usageError(`no sites in ${workspace.root}; add one with siteloom site add <name>`);
    usageError("name the sites to run, or use --all");
  }
  const unknown = sites.filter((s) => !workspace.sites.includes(s));
  if (unknown.length > 0) {
    throw new SiteloomError(
      "ERR_SITE_NOT_FOUND",
      `no site ${unknown.join(", ")} in ${workspace.root}; known sites: ${workspace.sites.join(", ") || "(none)"}`,
    );
  }

  if (flags.queue) {
    const { enqueueFromCli } = await import("./queue.ts");
    return enqueueFromCli(ctx, workspace, { sites, steps: requested, dryRun: Boolean(flags.dryRun) });
  }
  const store = openWorkspaceStore(workspace);
  const mode = ctx.progressMode();
  const renderer = createProgressRenderer({ mode, colors: ctx.color, verbose: Boolean(globals.verbose) });
  let runId: string | undefined;
  releaseRunOnForcedExit(ctx, store, sites, () => runId, siteLockName);
  try {
    await reconcileStaleRuns(store, isProcessAlive);
    const report = await runPipeline({
      workspace,
      sites,
      registry: BUILTIN_STEPS,
      steps: requested,
      store,
      concurrency,
      dryRun: Boolean(flags.dryRun),
      signal: ctx.signal(),
      lockWaitMs: waitMs,
      logger: await ctx.logger(),
      recordOptions: { dryRun: Boolean(flags.dryRun), waitMs, ...(requested ? { requestedSteps: requested } : {}) },
      onEvent: (event: PipelineEvent) => {
        if (event.type === "run-started") runId = event.runId;
        renderer.onEvent(event);
      },
    });
    renderer.close();
    if (mode !== "json") {
      ctx.print("");
      for (const line of formatRunSummary(report, ctx.color)) ctx.print(line);
    }
    // the table (or the events) said what failed; program.ts prints the run's error and maps its code
    if (report.error) throw report.error;
  } finally {
    renderer.close();
    await store.close();
  }
}

async function _withStore(ctx: CliContext, fn: (store: StateStore) => Promise<void>): Promise<void> {
  const workspace = await ctx.loadWorkspace();
  const [{ reconcileStaleRuns }, { isProcessAlive }, { openWorkspaceStore }] = await Promise.all([
    import("../../pipeline/index.ts"),
    import("../../store/index.ts"),
    import("../../workspace/index.ts"),
  ]);
  const store = openWorkspaceStore(workspace);
  try {
    await reconcileStaleRuns(store, isProcessAlive);
    await fn(store);
  } finally {
    await store.close();
  }
}

function _status(ctx: CliContext, status: RunRecord["status"] | string): string {
  const c = ctx.color;
  if (status === "succeeded") return c.green(status);
  if (status === "failed") return c.red(status);
  if (status === "interrupted") return c.yellow(status);
  return c.cyan(status);
}

function _list(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function _positiveInt(value: string, flag: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
    usageError(`${flag} expects a whole number${allowZero ? "" : " of at least 1"}, got "${value}"`);
  }
  return n;
}
