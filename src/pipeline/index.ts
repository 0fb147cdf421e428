/**
 * The pipeline: `runPipeline` runs steps (export → generate → enrich → deploy) for one or many sites, with per-site
 * locks in the state store, concurrency across sites, typed progress events and a run record per run. Rendering the
 * events is the CLI's job (src/cli/progress/); a run's outcome is `RunReport.error`, which the CLI maps to an exit code.
 */
export { type RunPipelineOptions, reconcileStaleRuns, resolveStepNames, runPipeline, siteLockName } from "./run.ts";
export {
  BUILTIN_STEPS,
  type DeployStepOptions,
  type GenerateStepOptions,
  type PublishStepOptions,
  STEP_NAMES,
} from "./steps/index.ts";
export type {
  PipelineEvent,
  PipelineStep,
  RunReport,
  SiteReport,
  SiteStatus,
  StepContext,
  StepProgress,
  StepResult,
} from "./types.ts";
export { defineStep } from "./types.ts";
