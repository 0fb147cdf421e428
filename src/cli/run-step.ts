import type { PipelineEvent, RunReport } from "../pipeline/index.ts";
import type { CliContext } from "./context.ts";
import { releaseRunOnForcedExit } from "./forced-exit.ts";

/** What a single command (`siteloom deploy <site>` ...) asks of its step. */
export interface RunStepCommandOptions {
  /** The built-in step to run. */
  step: "export" | "generate" | "enrich" | "deploy" | "publish";
  site: string;
  dryRun: boolean;
  /** The command's flags for the step (`ctx.options` inside it). */
  options?: Record<string, unknown>;
}

/**
 * Runs one step for one site through `runPipeline`, so a single command takes the site's lock, writes a run record
 * (`siteloom runs`, `GET /runs`), emits the same events and shows progress like `siteloom run`. Returns what the step
 * handed over (its domain report) for the command to print; a failed step is thrown after that report was printed
 * through `onDetail`, so the command's output and its error both show.
 */
export async function runStepCommand<T>(
  ctx: CliContext,
  options: RunStepCommandOptions,
  onDetail: (detail: T, run: { env: string; runId: string }) => void,
): Promise<T | undefined> {
  const [{ BUILTIN_STEPS, reconcileStaleRuns, runPipeline, siteLockName }, { isProcessAlive }, { openWorkspaceStore }] =
    await Promise.all([import("../pipeline/index.ts"), import("../store/index.ts"), import("../workspace/index.ts")]);
  const { createStepRenderer } = await import("./progress/index.ts");
  const workspace = await ctx.loadWorkspace();
  // Loaded once up front so that a bad site fails before any run is recorded, as the command always did.
  await workspace.site(options.site);
  const store = openWorkspaceStore(workspace);
  const mode = ctx.progressMode();
  const renderer =
    mode === "json"
      ? undefined
      : createStepRenderer({ mode, colors: ctx.color, verbose: ctx.globals().quiet !== true });
  let report: RunReport;
  try {
    await reconcileStaleRuns(store, isProcessAlive);
    let runId: string | undefined;
    releaseRunOnForcedExit(ctx, store, [options.site], () => runId, siteLockName);
    report = await runPipeline({
      workspace,
      sites: [options.site],
      registry: BUILTIN_STEPS,
      steps: [options.step],
      store,
      dryRun: options.dryRun,
      signal: ctx.signal(),
      logger: await ctx.logger(),
      stepOptions: { [options.step]: options.options ?? {} },
      recordOptions: { command: options.step, dryRun: options.dryRun, ...options.options },
      onEvent: (event: PipelineEvent) => {
        if (event.type === "run-started") runId = event.runId;
        renderer?.onEvent(event);
      },
    });
  } finally {
    renderer?.close();
    await store.close();
  }
  const site = report.sites[0];
  const detail = site?.details[options.step] as T | undefined;
  if (detail !== undefined) onDetail(detail, { env: report.run.env, runId: report.run.id });
  if (report.error?.code === "ERR_INTERRUPTED") throw report.error;
  // the step's own error, as it was thrown: its code, message and details are what the command always showed
  if (site?.failure) throw site.failure;
  if (report.error) throw report.error;
  return detail;
}
