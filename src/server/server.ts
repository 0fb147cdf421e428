import { EventEmitter } from "node:events";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { attachAuditTrail, auditTrailOf } from "../audit/index.ts";
import { consolePlugin, createSessionStore } from "../console/index.ts";
import { publishEvent } from "../events.ts";
import { createSilentLogger, type Logger } from "../log/index.ts";
import { createMetrics, type Metrics } from "../metrics/index.ts";
import { PACKAGE_VERSION } from "../package-info.ts";
import { settlePending } from "../pending.ts";
import type { PipelineEvent } from "../pipeline/index.ts";
import type { OpenStoreOptions } from "../secrets/index.ts";
import { openStateStore, type StateStore } from "../store/index.ts";
import { findWorkspaceRoot, followConfigVersions, STATE_DIR } from "../workspace/index.ts";
import { startServerAlerts } from "./alerts.ts";
import { createAuditLogSink } from "./audit-sink.ts";
import { authPlugin } from "./plugins/auth.ts";
import { errorHandlerPlugin } from "./plugins/error-handler.ts";
import { openApiPlugin } from "./plugins/openapi.ts";
import type { AuditSink, RunStarter } from "./ports.ts";
import { auditRoutes } from "./routes/audit.ts";
import { configRoutes, MERGE_PATCH_TYPE } from "./routes/config.ts";
import { healthRoutes } from "./routes/health.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { runRoutes } from "./routes/runs.ts";
import { secretRoutes } from "./routes/secrets.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { versionRoutes } from "./routes/versions.ts";
import { createPipelineRunStarter } from "./run-starter.ts";
import { type ConfigRuntime, createConfigRuntime } from "./runtime.ts";
import { createStoreVersionRepository } from "./versions.ts";

/** Version reported by /health and /openapi.json. */
export const SERVER_VERSION = PACKAGE_VERSION;

export interface BuildServerOptions {
  /** Workspace root (the folder holding siteloom.yaml). */
  root: string;
  /** The workspace's state folder (`workspace.stateDir`). @default <root>/.siteloom */
  stateDir?: string;
  /** State store for tokens, versions and runs. @default openStateStore({ stateDir }) (closed with the server) */
  store?: StateStore;
  /** Variables for SITELOOM_* overrides, `${NAME}` references and the secret stores. @default process.env */
  vars?: Record<string, string | undefined>;
  /** Audit sink. @default the workspace's `.siteloom/audit.log` (the CLI's log) */
  audit?: AuditSink;
  /** Starts pipeline runs for POST /runs. @default the pipeline (`runPipeline`) over this workspace */
  runs?: RunStarter;
  /**
   * Progress of the runs `runs` hands elsewhere (the queue's workers), for the console's live view: called once with
   * the emitter; returns the stop, awaited on close.
   */
  runEventSource?: (emit: (event: PipelineEvent) => void) => () => Promise<void>;
  /** Logger for requests and reloads. @default silent */
  logger?: Logger;
  /** Watch the configuration files and reload on change. @default true */
  watch?: boolean;
  /** Quiet time after the last file event before reloading. @default 30 */
  debounceMs?: number;
  /** Requests per window; defaults come from `server.rateLimit` (per minute) of the configuration. */
  rateLimit?: { perToken?: number; perAddress?: number; windowMs?: number };
  /** Largest accepted request body in bytes. @default 262144 */
  bodyLimit?: number;
  /** PEM certificate and key (contents) for HTTPS. */
  https?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Trust X-Forwarded-For from a proxy in front. @default server.trustProxy of the configuration */
  trustProxy?: boolean;
  /** Extra options for opening secret stores. */
  storeOptions?: Partial<OpenStoreOptions>;
  /** Metrics registry (GET /metrics). @default a new one fed by this process's events */
  metrics?: Metrics;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The live configuration (current snapshot, versions, reload events). */
    configRuntime: ConfigRuntime;
    /** The process's metrics (GET /metrics, or a separate port when metrics.port is set). */
    metrics: Metrics;
  }
}

/**
 * Builds the runtime configuration API without listening: loads and versions the configuration, starts the file
 * watcher, and registers the error handler, OpenAPI document, authentication and route groups. `app.close()` stops
 * the watcher and closes the store it opened.
 */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  const root = findWorkspaceRoot({ workspace: options.root });
  const stateDir = options.stateDir ?? join(root, STATE_DIR);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const vars = options.vars ?? process.env;
  const logger = options.logger ?? createSilentLogger();
  const ownStore = options.store === undefined;
  const store = options.store ?? openStateStore({ stateDir });
  // with a shared store (PostgreSQL) the audit chain is its audit_log table, one chain for every machine
  const trail = auditTrailOf(store, { stateDir });
  const ownAudit = options.audit ? undefined : createAuditLogSink(trail);
  const audit = _publishing(options.audit ?? ownAudit!);
  const versions = createStoreVersionRepository(store);
  let runtime: ConfigRuntime | undefined;
  // with a shared store (PostgreSQL) a version recorded by another instance is written here and swapped in
  const follower = followConfigVersions({
    root,
    store,
    vars,
    logger,
    onChecked: () => runtime?.reloadFromDisk(),
  });
  try {
    // catch up before the first snapshot, so a stale copy of the files is not recorded as the newest version
    await follower?.check();
    runtime = await createConfigRuntime({
      root,
      versions,
      vars,
      audit,
      logger,
      watch: options.watch ?? true,
      ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    });
  } catch (error) {
    await follower?.close();
    if (ownStore) await store.close();
    throw error;
  }
  const live: ConfigRuntime = runtime;
  const workspaceConfig = () => live.current().resolved.get(live.current().defaultEnv)!.workspace;
  const serverConfig = workspaceConfig().server;
  const metricsConfig = workspaceConfig().metrics;
  const perMinute = serverConfig.rateLimit;

  const app = Fastify({
    // per-request lines would cost more than the requests; errors and reloads are still logged
    loggerInstance: logger.child({ component: "http" }, { level: logger.levelVal > 40 ? logger.level : "warn" }),
    bodyLimit: options.bodyLimit ?? 256 * 1024,
    trustProxy: options.trustProxy ?? serverConfig.trustProxy,
    ...(options.https ? { https: options.https } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false } },
  }) as unknown as FastifyInstance;

  app.decorate("configRuntime", runtime);
  app.addContentTypeParser(MERGE_PATCH_TYPE, { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));
  // secret-store accesses made through the API reach the same log, with the token name as actor
  const detach = options.audit ? undefined : attachAuditTrail(trail, (error) => logger.error({ err: error }));
  // the console streams the progress of the runs this server starts (or, with a queue, the workers run)
  const runEvents = new EventEmitter();
  runEvents.setMaxListeners(0);
  const ownRuns = options.runs
    ? undefined
    : createPipelineRunStarter({ root, store, vars, logger, onEvent: (event) => runEvents.emit("event", event) });
  const stopRunEvents = options.runEventSource?.((event) => runEvents.emit("event", event));
  // after the audit log: alerts see each event's audit entry id
  const alerts = startServerAlerts({ root, store, runtime, vars, logger });
  const metrics =
    options.metrics ?? createMetrics({ store, maxMonthlyCost: () => workspaceConfig().budgets.maxMonthlyCost });
  const detachMetrics = metrics.attach();
  app.decorate("metrics", metrics);
  app.addHook("onResponse", async (request, reply) => {
    metrics.observeRequest(
      request.routeOptions.url ?? "unmatched",
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });
  const runs = options.runs ?? ownRuns;
  app.addHook("onClose", async () => {
    // runs in progress are interrupted (and record themselves as such) before the store closes
    await ownRuns?.close();
    await stopRunEvents?.();
    await alerts.close();
    detachMetrics();
    detach?.();
    await follower?.close();
    await live.close();
    await ownAudit?.flush();
    await settlePending();
    if (ownStore) await store.close();
  });

  await app.register(errorHandlerPlugin);
  await app.register(openApiPlugin, {
    title: "siteloom runtime configuration API",
    version: SERVER_VERSION,
    description: "Configuration, versions, secrets (metadata and writes), audit and runs of a siteloom workspace.",
  });
  const sessions = createSessionStore({ store, secure: Boolean(options.https) });
  await app.register(authPlugin, {
    sessions,
    tokens: store,
    audit,
    perToken: options.rateLimit?.perToken ?? perMinute,
    perAddress: options.rateLimit?.perAddress ?? perMinute * 2,
    windowMs: options.rateLimit?.windowMs ?? 60_000,
    logger,
  });
  await app.register(healthRoutes, { runtime, version: SERVER_VERSION });
  await app.register(configRoutes, { runtime });
  await app.register(versionRoutes, { runtime, versions });
  await app.register(secretRoutes, {
    runtime,
    root,
    stateDir,
    vars,
    storeOptions: options.storeOptions,
  });
  await app.register(auditRoutes, { audit });
  await app.register(runRoutes, { runtime, store, runs });
  await app.register(tokenRoutes, { tokens: store });
  await app.register(consolePlugin, {
    root,
    stateDir,
    runtime,
    store,
    tokens: store,
    sessions,
    vars,
    runEvents,
    audit: async (entry) => {
      await audit.append(entry);
    },
  });
  // with metrics.port set, `siteloom serve` serves them on that port instead (startMetricsServer)
  if (metricsConfig.enabled && metricsConfig.port === undefined) await app.register(metricsRoutes, { metrics });
  return app;
}

// --- internal ---

/**
 * The audit sink, also publishing each entry on the events channel (marked `audited`, so the audit log does not
 * write it twice): alerts see API config changes, rollbacks, token revocations and refused requests, metrics count
 * reloads.
 */
function _publishing(sink: AuditSink): AuditSink {
  return {
    query: (filter) => sink.query(filter),
    async append(entry): Promise<string | undefined> {
      const id = (await sink.append(entry)) ?? undefined;
      publishEvent({
        action: entry.action as `config.${string}`,
        ref: entry.key ?? "",
        env: entry.env ?? "",
        actor: entry.actor,
        outcome: entry.outcome,
        ...(entry.error ? { error: entry.error } : {}),
        ...(entry.source ? { source: entry.source } : {}),
        ...(entry.version !== undefined ? { version: entry.version } : {}),
        ...(typeof id === "string" ? { auditId: id } : {}),
        audited: true,
      });
      return typeof id === "string" ? id : undefined;
    },
  };
}
