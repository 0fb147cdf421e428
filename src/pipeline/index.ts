/**
 * The pipeline: `runPipeline` runs steps (export → generate → enrich → deploy) for one or many sites, with per-site
 * locks in the state store, concurrency across sites, progress events and a run record per run.
 */
export {
  createProgressRenderer,
  formatBytes,
  formatCost,
  formatDuration,
  formatRunSummary,
  formatTable,
  type ProgressRenderer,
  type ProgressRendererOptions,
} from "./progress/index.ts";
export { type RunPipelineOptions, reconcileStaleRuns, resolveStepNames, runPipeline, siteLockName } from "./run.ts";
export { BUILTIN_STEPS, STEP_NAMES } from "./steps/index.ts";
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
