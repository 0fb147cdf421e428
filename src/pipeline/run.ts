import { hostname, userInfo } from "node:os";
import pLimit from "p-limit";
import { type ErrorCode, isSiteloomError, SiteloomError } from "../errors.ts";
import { currentActor, publishActivity, publishEvent } from "../events.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import { redact } from "../secret.ts";
import { acquireLock, type HeldLock, type RunStepRecord, type StateStore, type StepStatus } from "../store/index.ts";
import { openWorkspaceStore, type SiteContext, type Workspace } from "../workspace/index.ts";
import type {
  PipelineEvent,
  PipelineStep,
  RunReport,
  SiteReport,
  SiteStatus,
  StepProgress,
  StepResult,
} from "./types.ts";

export interface RunPipelineOptions {
  workspace: Workspace;
  /** Sites to run, in order; each runs its steps in sequence, sites run in parallel up to `concurrency`. */
  sites: string[];
  /** The steps available, in pipeline order. */
  registry: PipelineStep[];
  /** Names of the steps to run (kept in registry order); default: every step marked default. */
  steps?: string[] | undefined;
  /** The state store; default: the workspace's `.siteloom/state.db` (closed again at the end). */
  store?: StateStore;
  /** Sites run at once. @default 2 */
  concurrency?: number;
  /** Change no remote, spend nothing; steps describe what they would do. @default false */
  dryRun?: boolean;
  /** Aborting it interrupts the run (Ctrl-C): steps stop, locks are released, the run is recorded as interrupted. */
  signal?: AbortSignal;
  /** Receives every event of the run, in order. */
  onEvent?: (event: PipelineEvent) => void;
  /** How long to wait for a site another run holds; 0 fails that site at once. @default 0 */
  lockWaitMs?: number;
  /** The lease of the site locks: a holder on another host that stops renewing it for this long is stale. @default 60000 */
  lockLeaseMs?: number;
  /** Who started the run (recorded). @default user@host */
  actor?: string;
  /** Options for single steps, by step name (`{ deploy: { purge: true } }`); each step reads its own (`ctx.options`). */
  stepOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Extra options recorded with the run (flags given). */
  recordOptions?: Record<string, unknown>;
  /**
   * The run's id, chosen before it starts (a queued run: the id was printed when it was enqueued). When a run with
   * this id is already recorded (a retried job whose worker died), the run resumes it: steps recorded as succeeded
   * are not run again, and the site lock that run held is taken over without marking the run interrupted.
   */
  runId?: string;
  logger?: Logger;
}

/** Minimum interval between two `step-progress` events of one step (the final state is always sent). */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Runs the pipeline: for each site (in parallel up to `concurrency`), take the site's lock, then run the chosen
 * steps in order; a failing step stops that site, other sites go on. Everything is recorded in the state store.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<RunReport> {
  const { workspace, registry } = options;
  const stepNames = resolveStepNames(registry, options.steps);
  const explicit = options.steps !== undefined;
  const steps = stepNames.map((name) => registry.find((s) => s.name === name) as PipelineStep);
  const sites = [...new Set(options.sites)];
  if (sites.length === 0) throw new SiteloomError("ERR_USAGE", "no site to run; name one or more sites, or use --all");
  const ownStore = options.store === undefined;
  const store = options.store ?? openWorkspaceStore(workspace);
  const logger = options.logger ?? createSilentLogger();
  const signal = options.signal ?? new AbortController().signal;
  const emit = (event: PipelineEvent) => {
    // metrics count what happens; a failing subscriber must not break the run
    try {
      publishActivity({ kind: "pipeline", event });
    } catch {}
    options.onEvent?.(event);
  };
  const started = Date.now();

  const existing = options.runId === undefined ? undefined : await store.getRun(options.runId);
  const done = new Set<string>();
  if (existing) {
    for (const step of await store.listSteps(existing.id)) {
      if (step.status === "succeeded") done.add(`${step.site}\u0000${step.step}`);
    }
    await store.updateRun(existing.id, { status: "running", error: undefined });
  }
  const run =
    existing ??
    (await store.createRun({
      ...(options.runId === undefined ? {} : { id: options.runId }),
      env: workspace.env,
      sites,
      steps: stepNames,
      dryRun: options.dryRun ?? false,
      started: new Date(started).toISOString(),
      actor: options.actor ?? _actor(),
      host: hostname(),
      pid: process.pid,
      options: { concurrency: options.concurrency ?? 2, ...options.recordOptions },
    }));
  emit({
    type: "run-started",
    time: _now(),
    runId: run.id,
    env: run.env,
    sites,
    steps: stepNames,
    dryRun: run.dryRun,
  });
  // Every step of every site is recorded up front, so `runs show` of an interrupted run lists what never started.
  for (const site of sites) {
    for (const [position, step] of stepNames.entries()) {
      if (!done.has(`${site}\u0000${step}`)) await store.saveStep(run.id, site, step, { position, status: "pending" });
    }
  }

  const reports = new Map<string, SiteReport>();
  const runSite = async (siteName: string): Promise<void> => {
    reports.set(
      siteName,
      await _runSite({ siteName, steps, explicit, store, runId: run.id, options, signal, emit, logger, done }),
    );
  };
  const limit = pLimit(Math.max(1, options.concurrency ?? 2));
  await Promise.all(sites.map((site) => limit(() => runSite(site))));

  const siteReports = sites.map((site) => reports.get(site) as SiteReport);
  const costUsd = siteReports.flatMap((r) => r.steps).reduce((sum, s) => sum + s.costUsd, 0);
  const interrupted = signal.aborted || siteReports.some((r) => r.status === "interrupted");
  const failed = siteReports.filter((r) => r.status === "failed");
  const status = interrupted ? "interrupted" : failed.length > 0 ? "failed" : "succeeded";
  const outcome = interrupted
    ? new SiteloomError("ERR_INTERRUPTED", "interrupted; run the same command again to resume")
    : failed.length > 0
      ? new SiteloomError(
          _firstCode(failed),
          `${failed.length} of ${sites.length} site(s) failed: ${failed.map((f) => f.site).join(", ")}`,
        )
      : undefined;
  const finished = new Date().toISOString();
  const error = interrupted ? "interrupted" : outcome?.message;
  await store.updateRun(run.id, { status, finished, costUsd, error });
  for (const report of failed) {
    publishEvent({
      action: "run.failed",
      ref: `run:${run.id}`,
      env: run.env,
      actor: currentActor(),
      outcome: "error",
      error: report.errorCode ?? "ERR_INTERNAL",
      site: report.site,
      detail: (report.error ?? "failed").slice(0, 300),
    });
  }
  const record = (await store.getRun(run.id)) ?? run;
  emit({
    type: "run-finished",
    time: finished,
    runId: run.id,
    status,
    durationMs: Date.now() - started,
    costUsd,
    ...(outcome ? { errorCode: outcome.code } : {}),
  });
  if (ownStore) await store.close();
  return { run: record, sites: siteReports, error: outcome };
}

/** The step names to run, in pipeline order; unknown names are a usage error listing the known ones. */
export function resolveStepNames(registry: PipelineStep[], requested?: string[]): string[] {
  if (requested === undefined) return registry.filter((s) => s.default !== false).map((s) => s.name);
  const known = registry.map((s) => s.name);
  const unknown = requested.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new SiteloomError("ERR_USAGE", `unknown step ${unknown.join(", ")}; the steps are ${known.join(", ")}`);
  }
  if (requested.length === 0) throw new SiteloomError("ERR_USAGE", `no step given; the steps are ${known.join(", ")}`);
  return known.filter((name) => requested.includes(name));
}

/** The store lock a run holds for each of its sites. */
export function siteLockName(site: string): string {
  return `site:${site}`;
}

/**
 * Marks runs whose process is gone (killed while running) as interrupted, so history does not show them running
 * forever. Only runs started on this host can be checked.
 */
export async function reconcileStaleRuns(store: StateStore, isAlive: (pid: number) => boolean): Promise<number> {
  const host = hostname();
  let count = 0;
  for (const run of await store.listRuns({ status: "running", limit: 1000 })) {
    if (run.host !== host || isAlive(run.pid)) continue;
    await _markInterrupted(store, run.id, `the process (pid ${run.pid}) ended without finishing the run`);
    count++;
  }
  return count;
}

// --- internal ---

interface SiteRunInput {
  siteName: string;
  steps: PipelineStep[];
  explicit: boolean;
  store: StateStore;
  runId: string;
  options: RunPipelineOptions;
  signal: AbortSignal;
  emit: (event: PipelineEvent) => void;
  logger: Logger;
  /** Steps an earlier attempt of this run finished (`site\0step`): not run again. */
  done: ReadonlySet<string>;
  /** What the site's steps handed over with ctx.detail(), by step name. */
  details?: Record<string, unknown>;
}

async function _runSite(input: SiteRunInput): Promise<SiteReport> {
  const { siteName, steps, store, runId, options, signal, emit } = input;
  const details: Record<string, unknown> = {};
  input.details = details;
  const finish = async (status: SiteStatus, error?: SiteloomError | Error): Promise<SiteReport> => {
    const message = error ? redact(error.message) : undefined;
    emit({
      type: "site-finished",
      time: _now(),
      runId,
      site: siteName,
      status,
      ...(message === undefined ? {} : { error: message }),
    });
    const records = (await store.listSteps(runId)).filter((s) => s.site === siteName);
    return {
      site: siteName,
      status,
      ...(message === undefined ? {} : { error: message }),
      ...(error && isSiteloomError(error) ? { errorCode: error.code } : {}),
      ...(error ? { failure: error } : {}),
      steps: records,
      details,
    };
  };
  const skipRest = async (from: number, status: StepStatus, reason: string) => {
    for (const step of steps.slice(from)) {
      await store.saveStep(runId, siteName, step.name, { status, summary: reason });
    }
  };

  if (signal.aborted) {
    await skipRest(0, "interrupted", "not started: the run was interrupted");
    return finish("interrupted");
  }
  emit({ type: "site-started", time: _now(), runId, site: siteName });

  let site: SiteContext;
  try {
    site = await options.workspace.site(siteName);
  } catch (error) {
    await skipRest(0, "skipped", "not started: the site's configuration could not be loaded");
    return finish("failed", _asError(error));
  }

  let lock: HeldLock;
  let waitedSince: number | undefined;
  try {
    lock = await acquireLock({
      store,
      name: siteLockName(siteName),
      owner: runId,
      subject: `site ${siteName}`,
      site: siteName,
      waitMs: options.lockWaitMs ?? 0,
      ...(options.lockLeaseMs === undefined ? {} : { leaseMs: options.lockLeaseMs }),
      signal,
      onWait: (holder, message) => {
        waitedSince ??= Date.now();
        emit({
          type: "lock-waiting",
          time: _now(),
          runId,
          site: siteName,
          holder: { owner: holder.owner, pid: holder.pid, host: holder.host, since: holder.acquired },
          message,
        });
      },
      onTakeover: (previous, message) => {
        publishEvent({
          action: "lock.takeover",
          ref: siteLockName(siteName),
          env: options.workspace.env,
          actor: currentActor(),
          outcome: "ok",
          site: siteName,
          detail: redact(message).slice(0, 300),
        });
        emit({
          type: "lock-takeover",
          time: _now(),
          runId,
          site: siteName,
          previous: { owner: previous.owner, pid: previous.pid, host: previous.host, since: previous.acquired },
          message,
        });
      },
    });
    if (waitedSince !== undefined) publishActivity({ kind: "lock.wait", site: siteName, ms: Date.now() - waitedSince });
  } catch (error) {
    const err = _asError(error);
    const interrupted = isSiteloomError(err) && err.code === "ERR_INTERRUPTED";
    await skipRest(0, interrupted ? "interrupted" : "skipped", `not started: ${redact(err.message)}`);
    return finish(interrupted ? "interrupted" : "failed", err);
  }

  try {
    if (lock.previous && lock.previous.owner !== runId) {
      await _markInterrupted(
        store,
        lock.previous.owner,
        `the process (pid ${lock.previous.pid}) ended without finishing; its lock was taken over by run ${runId}`,
      );
    }
    const previous: Record<string, StepResult> = {};
    for (const [index, step] of steps.entries()) {
      if (signal.aborted) {
        await skipRest(index, "interrupted", "not started: the run was interrupted");
        return await finish("interrupted");
      }
      if (input.done.has(`${siteName}\u0000${step.name}`)) {
        emit(_finishedEvent(runId, siteName, step.name, "succeeded", 0, { summary: "done by an earlier attempt" }));
        continue;
      }
      const skipReason = step.skip?.(site, input.explicit);
      if (skipReason !== undefined) {
        await store.saveStep(runId, siteName, step.name, { status: "skipped", summary: skipReason });
        emit(_finishedEvent(runId, siteName, step.name, "skipped", 0, { summary: skipReason }));
        continue;
      }
      const outcome = await _runStep(input, site, step, previous);
      if (outcome.status === "succeeded") {
        previous[step.name] = outcome.result;
        continue;
      }
      await skipRest(
        index + 1,
        outcome.status === "interrupted" ? "interrupted" : "skipped",
        outcome.status === "interrupted" ? "not started: the run was interrupted" : `not started: ${step.name} failed`,
      );
      return await finish(outcome.status, outcome.error);
    }
    return await finish("succeeded");
  } finally {
    await lock.release();
  }
}

type StepOutcome = { status: "succeeded"; result: StepResult } | { status: "failed" | "interrupted"; error: Error };

async function _runStep(
  input: SiteRunInput,
  site: SiteContext,
  step: PipelineStep,
  previous: Record<string, StepResult>,
): Promise<StepOutcome> {
  const { store, runId, siteName, emit, signal, options } = input;
  const startedAt = Date.now();
  await store.saveStep(runId, siteName, step.name, { status: "running", started: new Date(startedAt).toISOString() });
  emit({ type: "step-started", time: _now(), runId, site: siteName, step: step.name });
  let lastProgress = 0;
  let pending: StepProgress | undefined;
  const progress = (update: StepProgress) => {
    pending = { ...pending, ...update };
    const now = Date.now();
    if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
    lastProgress = now;
    emit({ type: "step-progress", time: _now(), runId, site: siteName, step: step.name, ...pending });
  };
  const log = (level: "info" | "warn") => (message: string) =>
    emit({ type: "step-log", time: _now(), runId, site: siteName, step: step.name, level, message: redact(message) });
  try {
    const result =
      (await step.run({
        workspace: options.workspace,
        site,
        store,
        runId,
        dryRun: options.dryRun ?? false,
        signal,
        logger: input.logger.child({ site: siteName, step: step.name }),
        progress,
        info: log("info"),
        warn: log("warn"),
        previous,
        options: options.stepOptions?.[step.name] ?? {},
        detail: (value) => {
          if (input.details) input.details[step.name] = value;
        },
      })) ?? {};
    if (pending) emit({ type: "step-progress", time: _now(), runId, site: siteName, step: step.name, ...pending });
    const durationMs = Date.now() - startedAt;
    await store.saveStep(runId, siteName, step.name, {
      status: "succeeded",
      finished: _now(),
      counts: result.counts ?? {},
      bytes: result.bytes ?? 0,
      costUsd: result.costUsd ?? 0,
      summary: result.summary === undefined ? undefined : redact(result.summary),
      plan: (result.plan ?? []).map(redact),
    });
    emit(_finishedEvent(runId, siteName, step.name, "succeeded", durationMs, result));
    return { status: "succeeded", result };
  } catch (error) {
    const err = _asError(error);
    const interrupted = signal.aborted || (isSiteloomError(err) && err.code === "ERR_INTERRUPTED");
    const status = interrupted ? "interrupted" : "failed";
    const message = redact(err.message);
    const code = isSiteloomError(err) ? err.code : "ERR_INTERNAL";
    await store.saveStep(runId, siteName, step.name, {
      status,
      finished: _now(),
      error: message,
      errorCode: code,
    });
    emit({
      ..._finishedEvent(runId, siteName, step.name, status, Date.now() - startedAt, {}),
      error: message,
      errorCode: code,
    });
    return { status, error: err };
  }
}

function _finishedEvent(
  runId: string,
  site: string,
  step: string,
  status: StepStatus,
  durationMs: number,
  result: StepResult,
): Extract<PipelineEvent, { type: "step-finished" }> {
  return {
    type: "step-finished",
    time: _now(),
    runId,
    site,
    step,
    status,
    durationMs,
    ...(result.summary === undefined ? {} : { summary: redact(result.summary) }),
    counts: result.counts ?? {},
    bytes: result.bytes ?? 0,
    costUsd: result.costUsd ?? 0,
    plan: (result.plan ?? []).map(redact),
  };
}

async function _markInterrupted(store: StateStore, runId: string, reason: string): Promise<void> {
  const run = await store.getRun(runId);
  if (run?.status !== "running") return;
  for (const step of await store.listSteps(runId)) {
    if (step.status === "running" || step.status === "pending") {
      await store.saveStep(runId, step.site, step.step, {
        status: "interrupted",
        ...(step.status === "running" ? { error: reason } : { summary: "not started: the run was interrupted" }),
      });
    }
  }
  await store.updateRun(runId, { status: "interrupted", finished: run.finished ?? _now(), error: reason });
}

/** The code of the first failure that has one (an unexpected error counts as ERR_INTERNAL). */
function _firstCode(failed: SiteReport[]): ErrorCode {
  for (const report of failed) {
    const code = report.errorCode ?? report.steps.find((s: RunStepRecord) => s.status === "failed")?.errorCode;
    if (code && code !== "ERR_INTERNAL") return code as ErrorCode;
  }
  return "ERR_INTERNAL";
}

function _asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function _actor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `pid${process.pid}@${hostname()}`;
  }
}

function _now(): string {
  return new Date().toISOString();
}
