import { SiteloomError } from "../errors.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import { BUILTIN_STEPS, type PipelineEvent, type PipelineStep, runPipeline } from "../pipeline/index.ts";
import { createSecretResolver, guardPlaintext } from "../secrets/index.ts";
import type { StateStore } from "../store/index.ts";
import { loadWorkspace } from "../workspace/index.ts";
import type { RunStarter } from "./ports.ts";

export interface PipelineRunStarterOptions {
  root: string;
  store: StateStore;
  vars: Record<string, string | undefined>;
  logger?: Logger;
  /** Steps available. @default BUILTIN_STEPS */
  registry?: PipelineStep[];
  /** Every pipeline event of the runs started (the console streams them as live progress). */
  onEvent?: (event: PipelineEvent) => void;
}

/** A RunStarter that can also stop the runs it started (graceful shutdown). */
export interface PipelineRunStarter extends RunStarter {
  /** Interrupts the runs still going and waits until they have recorded themselves. */
  close(): Promise<void>;
}

/**
 * Starts `runPipeline` in the background and answers as soon as the run has its id. The run loads its own
 * workspace when it starts, so it keeps that configuration while later changes apply to the next run.
 */
export function createPipelineRunStarter(options: PipelineRunStarterOptions): PipelineRunStarter {
  const logger = options.logger ?? createSilentLogger();
  const active = new Set<{ controller: AbortController; done: Promise<unknown> }>();
  return {
    async start(request) {
      const vars = { ...options.vars, SITELOOM_ACTOR: request.actor };
      const workspace = guardPlaintext(
        await loadWorkspace({
          workspace: options.root,
          env: request.env,
          vars,
          secrets: (ws) => createSecretResolver(ws, { vars, env: request.env }),
        }),
        { warn: (line) => logger.warn(line) },
      );
      const controller = new AbortController();
      return new Promise((resolve, reject) => {
        let started = false;
        const done = runPipeline({
          workspace,
          sites: request.sites,
          registry: options.registry ?? BUILTIN_STEPS,
          steps: request.steps,
          store: options.store,
          dryRun: request.dryRun,
          signal: controller.signal,
          actor: request.actor,
          recordOptions: { via: "api" },
          logger,
          onEvent(event) {
            options.onEvent?.(event);
            if (event.type === "run-started" && !started) {
              started = true;
              resolve({
                id: event.runId,
                env: event.env,
                sites: event.sites,
                steps: event.steps,
                dryRun: event.dryRun,
              });
            }
          },
        })
          .then((report) => {
            logger.info({ runId: (report as { id?: string }).id }, "run finished");
          })
          .catch((error) => {
            if (!started) reject(error);
            else logger.error({ err: error }, "run failed");
          })
          .finally(() => active.delete(entry));
        const entry = { controller, done };
        active.add(entry);
        if (!started && controller.signal.aborted) reject(new SiteloomError("ERR_INTERRUPTED", "server stopping"));
      });
    },
    async close() {
      for (const run of active) run.controller.abort();
      await Promise.allSettled([...active].map((r) => r.done));
    },
  };
}
