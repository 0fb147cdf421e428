import type { ErrorCode, SiteloomError } from "../errors.ts";
import type { Logger } from "../log/index.ts";
import type { RunRecord, RunStatus, RunStepRecord, StateStore, StepStatus } from "../store/index.ts";
import type { SiteContext, Workspace } from "../workspace/index.ts";

/** Progress a step reports while it works (drives the bars and `step-progress` events). */
export interface StepProgress {
  /** Units done so far. */
  done?: number;
  /** Units in total, when known. */
  total?: number;
  /** What is counted. @default "items" */
  unit?: "files" | "bytes" | "articles" | "pages" | "items";
  /** Short text: the current file or topic. */
  message?: string;
  /** Money spent so far by this step (model calls), in USD. */
  costUsd?: number;
}

/** What a step gets: the resolved site, the run's state, and the means to report. */
export interface StepContext {
  workspace: Workspace;
  /** The site, its configuration fully layered for the run's environment. */
  site: SiteContext;
  store: StateStore;
  runId: string;
  /** True with --dry-run: change no remote, spend nothing, describe what would be done in `plan`. */
  dryRun: boolean;
  /** Aborted on Ctrl-C: stop at the next safe point (never leave partial files at final names). */
  signal: AbortSignal;
  logger: Logger;
  progress(update: StepProgress): void;
  /** A notice shown with the step (masked). */
  info(message: string): void;
  warn(message: string): void;
  /** Results of this site's earlier steps in this run, by step name. */
  previous: Readonly<Record<string, StepResult>>;
  /**
   * Options the caller gave this step (`RunPipelineOptions.stepOptions[step.name]`): a single command's flags, such
   * as deploy's `--purge`. Each step reads its own shape; empty when none were given.
   */
  options: Readonly<Record<string, unknown>>;
  /**
   * Hands the domain's full report (a DeployResult, a GenerateReport...) to the caller, even when the step then
   * fails: single commands print it and `--json` shows it. Not recorded in the store.
   */
  detail(value: unknown): void;
}

/** What a step reports when it finishes. */
export interface StepResult {
  /** One line for the summary: "12 files uploaded, 1 deleted". */
  summary?: string;
  /** Counters shown in the summary table and kept in the run record. */
  counts?: Record<string, number>;
  /** Bytes transferred or written. */
  bytes?: number;
  /** Money spent, USD. */
  costUsd?: number;
  /** Dry run: what the step would do, one line each. */
  plan?: string[];
}

/**
 * One step of the pipeline. A step is idempotent: running it again after any failure continues where it makes
 * sense and redoes nothing finished.
 */
export interface PipelineStep {
  name: string;
  /** One line for `--help`. */
  description: string;
  /** Runs by default (without --steps). @default true */
  default?: boolean;
  /**
   * A reason to skip this step for this site (e.g. deploy with `features.autoDeploy: false` when not asked for
   * explicitly), or undefined to run it.
   */
  skip?(site: SiteContext, explicit: boolean): string | undefined;
  run(ctx: StepContext): Promise<StepResult | undefined>;
}

/** Typed identity helper for steps. */
export function defineStep(step: PipelineStep): PipelineStep {
  return step;
}

/** The status of one site in a run. */
export type SiteStatus = "succeeded" | "failed" | "interrupted" | "skipped";

/** Events of a run, in order; `--json` prints one per line (documented in docs/pipeline.md). */
export type PipelineEvent =
  | {
      type: "run-started";
      time: string;
      runId: string;
      env: string;
      sites: string[];
      steps: string[];
      dryRun: boolean;
    }
  | { type: "site-started"; time: string; runId: string; site: string }
  | {
      type: "lock-waiting";
      time: string;
      runId: string;
      site: string;
      holder: { owner: string; pid: number; host: string; since: string };
      message: string;
    }
  | {
      type: "lock-takeover";
      time: string;
      runId: string;
      site: string;
      previous: { owner: string; pid: number; host: string; since: string };
      message: string;
    }
  | { type: "step-started"; time: string; runId: string; site: string; step: string }
  | ({ type: "step-progress"; time: string; runId: string; site: string; step: string } & StepProgress)
  | {
      type: "step-log";
      time: string;
      runId: string;
      site: string;
      step: string;
      level: "info" | "warn";
      message: string;
    }
  | {
      type: "step-finished";
      time: string;
      runId: string;
      site: string;
      step: string;
      status: StepStatus;
      durationMs: number;
      summary?: string;
      counts: Record<string, number>;
      bytes: number;
      costUsd: number;
      plan: string[];
      error?: string;
      errorCode?: string;
    }
  | { type: "site-finished"; time: string; runId: string; site: string; status: SiteStatus; error?: string }
  | {
      type: "run-finished";
      time: string;
      runId: string;
      status: RunStatus;
      durationMs: number;
      costUsd: number;
      /** The code of the run's `error` (ERR_INTERRUPTED, or the first failed site's); absent when it succeeded. */
      errorCode?: ErrorCode;
    };

/** The outcome of one site. */
export interface SiteReport {
  site: string;
  status: SiteStatus;
  /** Why the site failed or was skipped before any step ran (lock held, invalid config). */
  error?: string;
  errorCode?: string;
  steps: RunStepRecord[];
  /** The error that stopped this site, as thrown (a SiteloomError with its code and details, or an unexpected one). */
  failure?: Error;
  /** What each step handed over with `ctx.detail()`, by step name. */
  details: Record<string, unknown>;
}

/** The outcome of `runPipeline`. */
export interface RunReport {
  run: RunRecord;
  sites: SiteReport[];
  /**
   * Why the run did not succeed: ERR_INTERRUPTED when it was interrupted, else an error with the code of the first
   * failed site (the CLI turns it into the exit code); undefined when every site succeeded.
   */
  error: SiteloomError | undefined;
}
