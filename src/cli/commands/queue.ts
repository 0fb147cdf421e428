import type { Workspace } from "../../workspace/index.ts";
import { type CliContext, type RegisterCommands, usageError } from "../context.ts";
import { printTable } from "../table.ts";

/** worker, schedule list, status (many machines: the pg-boss queue) */
export const registerQueueCommands: RegisterCommands = (program, ctx) => {
  program
    .command("worker")
    .description("take pipeline jobs from the queue and run them (many machines; see docs/many-machines.md)")
    .option("-c, --concurrency <n>", "jobs run at once", "1")
    .option("--queue <name>", "queue to take jobs from (default: queue.name, siteloom-run)")
    .option("--metrics-port <n>", "serve GET /metrics (Prometheus) on this loopback port (default: metrics.port)")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom worker                      # one job at a time from queue.name
  $ siteloom worker --concurrency 4
  $ SITELOOM_QUEUE_URL=postgres://... siteloom worker --queue nightly

Stops on SIGTERM or Ctrl-C: takes no new job, lets running ones finish for queue.graceSeconds, hands back the
rest to the queue (another worker resumes them), exits 0.`,
    )
    .action(async (flags: { concurrency: string; queue?: string; metricsPort?: string }) => {
      const concurrency = _positiveInt(flags.concurrency, "--concurrency");
      if (flags.queue !== undefined && !/^[a-z][a-z0-9-]*$/.test(flags.queue)) {
        usageError(`--queue expects a name of lower-case letters, digits and dashes, got "${flags.queue}"`);
      }
      const workspace = await ctx.loadWorkspace();
      const [{ openWorkspaceQueue, runWorker, syncSchedules }, { openWorkspaceStore }] = await Promise.all([
        import("../../queue/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      const logger = await ctx.logger();
      const { client, url } = await openWorkspaceQueue(workspace, {
        role: "worker",
        logger,
        waitSeconds: workspace.config.queue.startWaitSeconds,
        onWait: (line) => ctx.warn(`worker: ${line}`),
      });
      const store = openWorkspaceStore(workspace);
      const metricsPort =
        flags.metricsPort === undefined ? workspace.config.metrics.port : _port(flags.metricsPort, "--metrics-port");
      let metrics: { close(): Promise<void> } | undefined;
      try {
        if (metricsPort !== undefined && workspace.config.metrics.enabled) {
          const { createMetrics, startMetricsServer } = await import("../../metrics/index.ts");
          const queue = flags.queue ?? client.config.name;
          const registry = createMetrics({
            store,
            maxMonthlyCost: () => workspace.config.budgets.maxMonthlyCost,
            // jobs waiting (created or due for a retry) in the queue this worker takes from; unknown while the
            // database is away, not 0
            queueDepth: () => client.boss.getQueueSize(queue).catch(() => Number.NaN),
          });
          const detach = registry.attach();
          const server = await startMetricsServer({
            metrics: registry,
            port: metricsPort,
            host: workspace.config.metrics.host,
          });
          ctx.info(`metrics on ${server.url}`);
          metrics = {
            close: async () => {
              detach();
              await server.close();
            },
          };
        }
        const signal = ctx.signal();
        const schedules = await syncSchedules(client, workspace, { logger });
        if (schedules.length > 0) ctx.info(`schedules: ${schedules.map((s) => `${s.name} (${s.cron})`).join(", ")}`);
        const summary = await runWorker({
          client,
          url,
          root: workspace.root,
          store,
          concurrency,
          ...(flags.queue ? { queue: flags.queue } : {}),
          signal,
          logger,
          onLine: (line) => ctx.info(line),
        });
        ctx.info(
          `worker ${summary.workerId} stopped: ${summary.jobs} job(s) done${summary.handedBack ? `, ${summary.handedBack} handed back to the queue` : ""}`,
        );
      } finally {
        await metrics?.close();
        await client.close();
        await store.close();
      }
    });

  const schedule = program.command("schedule").description("scheduled runs (cron, per site or workspace)");
  schedule
    .command("list", { isDefault: true })
    .description("list the schedules in force: cron, time zone, sites, steps and the next run")
    .addHelpText("after", "\nExample:\n  $ siteloom schedule list --json")
    .action(async () => {
      const workspace = await ctx.loadWorkspace();
      const { listConfiguredSchedules } = await import("../../queue/index.ts");
      const schedules = await listConfiguredSchedules(workspace);
      if (ctx.globals().json) return ctx.printJson(schedules);
      if (schedules.length === 0) {
        return ctx.info("no schedules; add one with `schedule: { cron: '0 3 * * *', tz: Europe/Paris }`");
      }
      printTable(
        ctx,
        ["NAME", "CRON", "TZ", "SITES", "STEPS", "NEXT"],
        schedules.map((s) => [s.name, s.cron, s.tz, s.sites.join(","), s.steps?.join(",") ?? "default", s.next]),
      );
    });

  program
    .command("status")
    .description("workers alive, queue depth per state, schedules and locks held")
    .addHelpText("after", "\nExample:\n  $ siteloom status --json")
    .action(async () => {
      const workspace = await ctx.loadWorkspace();
      const [{ openWorkspaceQueue, queueStatus }, { openWorkspaceStore }] = await Promise.all([
        import("../../queue/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      const { client } = await openWorkspaceQueue(workspace, { logger: await ctx.logger() });
      const store = openWorkspaceStore(workspace);
      try {
        const status = await queueStatus(client, store);
        const { channelHealth } = await import("../../alerts/index.ts");
        const alerts = channelHealth(
          workspace.config.alerts,
          await store.listAlerts({ status: "pending", limit: 10_000 }),
        );
        if (ctx.globals().json) return ctx.printJson({ ...status, alerts });
        ctx.print(ctx.color.bold(`workers (${status.workers.length} alive)`));
        printTable(
          ctx,
          ["ID", "HOST", "PID", "QUEUE", "JOBS", "HEARTBEAT"],
          status.workers.map((w) => [
            w.id,
            w.host,
            String(w.pid),
            w.queue,
            `${w.jobs.length}/${w.concurrency}${w.stopping ? " stopping" : ""}`,
            w.heartbeat,
          ]),
        );
        ctx.print("");
        ctx.print(ctx.color.bold("queues"));
        printTable(
          ctx,
          ["QUEUE", "CREATED", "RETRY", "ACTIVE", "COMPLETED", "FAILED", "CANCELLED"],
          status.queues.map((q) => [
            q.name,
            ...[q.created, q.retry, q.active, q.completed, q.failed, q.cancelled].map(String),
          ]),
        );
        ctx.print("");
        ctx.print(ctx.color.bold("schedules"));
        printTable(
          ctx,
          ["NAME", "CRON", "TZ", "SITES"],
          status.schedules.map((s) => [s.name, s.cron, s.tz, s.sites.join(",")]),
        );
        ctx.print("");
        ctx.print(ctx.color.bold("locks"));
        printTable(
          ctx,
          ["NAME", "OWNER", "HOST", "PID", "HEARTBEAT"],
          status.locks.map((l) => [l.name, l.owner, l.host, String(l.pid), l.heartbeat]),
        );
        ctx.print("");
        ctx.print(ctx.color.bold("alert channels (siteloom alerts list)"));
        printTable(
          ctx,
          ["CHANNEL", "TYPE", "STATE", "PENDING", "FAILING", "LAST ERROR"],
          alerts.map((c) => [c.channel, c.type, c.state, String(c.pending), String(c.failing), c.lastError ?? ""]),
        );
      } finally {
        await client.close();
        await store.close();
      }
    });
};

/** `run --queue`: one job per site; prints the run ids (and the JSON list with --json). */
export async function enqueueFromCli(
  ctx: CliContext,
  workspace: Workspace,
  request: { sites: string[]; steps: string[] | undefined; dryRun: boolean },
): Promise<void> {
  const { openWorkspaceQueue } = await import("../../queue/index.ts");
  const { client } = await openWorkspaceQueue(workspace, { logger: await ctx.logger() });
  try {
    const { actorName } = await import("../../queue/index.ts");
    const runs = await client.enqueue({
      ...request,
      env: workspace.env,
      actor: actorName(),
      via: "cli",
    });
    if (ctx.globals().json) return ctx.printJson(runs);
    for (const run of runs) {
      ctx.print(`${run.runId}  ${run.site}${run.alreadyQueued ? "  (already queued)" : ""}`);
    }
    ctx.info(`queued ${runs.length} run(s); follow one with siteloom runs --follow <id>`);
  } finally {
    await client.close();
  }
}

/** `runs --follow <id>`: streams a queued run's events until it is over; a failed run fails the command with its error. */
export async function followQueuedRun(ctx: CliContext, runId: string): Promise<void> {
  const workspace = await ctx.loadWorkspace();
  const [{ openWorkspaceQueue, followRun }, { createProgressRenderer }, { SiteloomError }] = await Promise.all([
    import("../../queue/index.ts"),
    import("../progress/index.ts"),
    import("../../errors.ts"),
  ]);
  const { client, url } = await openWorkspaceQueue(workspace, { logger: await ctx.logger() });
  const renderer = createProgressRenderer({
    mode: ctx.progressMode(),
    colors: ctx.color,
    verbose: Boolean(ctx.globals().verbose),
  });
  try {
    const run = await client.getRun(runId);
    if (!run) {
      throw new SiteloomError(
        "ERR_USAGE",
        `no queued run "${runId}"; runs started with siteloom run (without --queue) are shown by siteloom runs show`,
      );
    }
    let last = run;
    await followRun({
      url,
      runId,
      signal: ctx.signal(),
      onEvent: (event) => renderer.onEvent(event),
      isOver: async () => {
        last = (await client.getRun(runId)) ?? last;
        return last.status === "succeeded" || last.status === "failed";
      },
    });
    renderer.close();
    if (last.status === "failed") {
      // program.ts turns the run's own error code into the exit code, as for a run in this process (--json too:
      // the events went to stdout, the error line goes to stderr)
      throw new SiteloomError(
        last.errorCode ?? "ERR_STEP_FAILED",
        `run ${runId} failed: ${last.error ?? "no reason recorded"}`,
      );
    }
    if (!ctx.globals().json) ctx.info(`run ${runId} ${last.status}`);
  } finally {
    renderer.close();
    await client.close();
  }
}

/** `runs --failed`: the dead letters (queued runs whose retries are spent). */
export async function listFailedRuns(ctx: CliContext, limit: number): Promise<void> {
  const workspace = await ctx.loadWorkspace();
  const { openWorkspaceQueue, listDeadLetters } = await import("../../queue/index.ts");
  const { client } = await openWorkspaceQueue(workspace, { logger: await ctx.logger() });
  try {
    const failed = await listDeadLetters(client, { limit });
    if (ctx.globals().json) return ctx.printJson(failed);
    if (failed.length === 0) return ctx.info("no failed jobs in the dead-letter queue");
    printTable(
      ctx,
      ["RUN", "SITE", "ATTEMPTS", "FAILED", "ERROR"],
      failed.map((f) => [f.runId, f.site, String(f.attempts), f.failed, f.error ?? ""]),
    );
  } finally {
    await client.close();
  }
}

// --- internal ---

function _positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usageError(`${flag} expects a whole number of at least 1, got "${value}"`);
  return n;
}

function _port(text: string, flag: string): number {
  const n = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || n > 65535) usageError(`${flag} expects a port from 0 to 65535, got "${text}"`);
  return n;
}
