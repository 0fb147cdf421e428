import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { ACTIVITY_CHANNEL, type ActivityEvent, EVENTS_CHANNEL, type SiteloomEvent } from "../events.ts";
import type { PipelineEvent } from "../pipeline/index.ts";
import type { StateStore } from "../store/index.ts";

/** Text format content type of GET /metrics. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsOptions {
  /** State store for the month's budget spend and pending alerts, read at each scrape. */
  store?: StateStore | undefined;
  /** budgets.maxMonthlyCost in force (read at each scrape). */
  maxMonthlyCost?: () => number | undefined;
  /** Jobs waiting in the queue (the worker's queue, when there is one), read at each scrape. */
  queueDepth?: () => Promise<number> | number;
  /** Node's process metrics (CPU, memory, event loop lag). @default true */
  processMetrics?: boolean;
}

/** The metrics of one process: a prom-client registry fed by the events and activity channels. */
export interface Metrics {
  readonly registry: Registry;
  /** Subscribes to the channels; returns the unsubscribe. */
  attach(): () => void;
  /** Records one HTTP request (route template, never the path with its parameters). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** The Prometheus text format. */
  text(): Promise<string>;
}

/**
 * Counters and histograms from what the process does: runs and steps by status, step durations, files and bytes
 * transferred, retries, model tokens and cost by provider/model/site, budget used and left, lock waits, API requests
 * by route and status, config reloads and secret accesses by action. Labels are bounded: site, step and route names
 * and fixed vocabularies, never a file name, a secret name or a path with parameters.
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "siteloom_" });
  const r = [registry];
  const runs = new Counter({
    name: "siteloom_runs_total",
    help: "Finished runs by status",
    labelNames: ["status"],
    registers: r,
  });
  const running = new Gauge({ name: "siteloom_runs_running", help: "Runs in progress in this process", registers: r });
  const steps = new Counter({
    name: "siteloom_steps_total",
    help: "Finished steps by site, step and status",
    labelNames: ["site", "step", "status"],
    registers: r,
  });
  const stepSeconds = new Histogram({
    name: "siteloom_step_duration_seconds",
    help: "Step durations by step and status",
    labelNames: ["step", "status"],
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800],
    registers: r,
  });
  const items = new Counter({
    name: "siteloom_step_items_total",
    help: "What steps counted (uploaded, deleted, downloaded, generated...) by site and step",
    labelNames: ["site", "step", "item"],
    registers: r,
  });
  const filesUploaded = new Counter({
    name: "siteloom_files_uploaded_total",
    help: "Files uploaded by deploys, by site",
    labelNames: ["site"],
    registers: r,
  });
  const filesDownloaded = new Counter({
    name: "siteloom_files_downloaded_total",
    help: "Files downloaded by exports, by site",
    labelNames: ["site"],
    registers: r,
  });
  const bytes = new Counter({
    name: "siteloom_transfer_bytes_total",
    help: "Bytes transferred by step and site",
    labelNames: ["site", "step"],
    registers: r,
  });
  const retries = new Counter({
    name: "siteloom_retries_total",
    help: "Retried operations by kind (deploy, wordpress)",
    labelNames: ["what"],
    registers: r,
  });
  const llmTokens = new Counter({
    name: "siteloom_llm_tokens_total",
    help: "Model tokens by provider, model, site and direction",
    labelNames: ["provider", "model", "site", "direction"],
    registers: r,
  });
  const llmCost = new Counter({
    name: "siteloom_llm_cost_usd_total",
    help: "Model spend in USD by provider, model and site",
    labelNames: ["provider", "model", "site"],
    registers: r,
  });
  const llmCalls = new Counter({
    name: "siteloom_llm_calls_total",
    help: "Model calls by provider, model, site and whether the output was accepted",
    labelNames: ["provider", "model", "site", "accepted"],
    registers: r,
  });
  const lockWaits = new Counter({
    name: "siteloom_lock_waits_total",
    help: "Site locks waited for",
    labelNames: ["site"],
    registers: r,
  });
  const lockWaitSeconds = new Histogram({
    name: "siteloom_lock_wait_seconds",
    help: "Time spent waiting for site locks",
    buckets: [0.1, 1, 5, 15, 60, 300, 900],
    registers: r,
  });
  const lockTakeovers = new Counter({
    name: "siteloom_lock_takeovers_total",
    help: "Locks taken over from a stopped holder",
    registers: r,
  });
  const requests = new Counter({
    name: "siteloom_http_requests_total",
    help: "API requests by route, method and status",
    labelNames: ["route", "method", "status"],
    registers: r,
  });
  const requestSeconds = new Histogram({
    name: "siteloom_http_request_duration_seconds",
    help: "API request latency by route and method",
    labelNames: ["route", "method"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: r,
  });
  const reloads = new Counter({
    name: "siteloom_config_reloads_total",
    help: "Configuration reloads from the files by outcome",
    labelNames: ["outcome"],
    registers: r,
  });
  const configWrites = new Counter({
    name: "siteloom_config_writes_total",
    help: "Configuration file writes",
    registers: r,
  });
  const secretAccesses = new Counter({
    name: "siteloom_secret_accesses_total",
    help: "Secret store accesses by action and outcome",
    labelNames: ["action", "outcome"],
    registers: r,
  });
  const store = options.store;
  const maxMonthly = options.maxMonthlyCost;
  new Gauge({
    name: "siteloom_budget_used_usd",
    help: "Spend of the current month (settled model calls), USD",
    registers: store ? r : [],
    async collect() {
      if (!store) return;
      const spend = await store.budgetSpend(new Date().toISOString().slice(0, 7)).catch(() => undefined);
      if (!spend) return;
      this.set(spend.settledUsd);
      const max = maxMonthly?.();
      if (max !== undefined) budgetLeft.set(Math.max(0, max - spend.settledUsd - spend.reservedUsd));
    },
  });
  const budgetLeft = new Gauge({
    name: "siteloom_budget_left_usd",
    help: "budgets.maxMonthlyCost minus this month's settled and reserved spend, USD (absent without a limit)",
    registers: store && maxMonthly ? r : [],
  });
  new Gauge({
    name: "siteloom_alerts_pending",
    help: "Alert deliveries queued and not yet sent (failing channels keep theirs)",
    registers: store ? r : [],
    async collect() {
      if (store) this.set(await store.countAlerts("pending").catch(() => 0));
    },
  });
  const queueDepth = options.queueDepth;
  new Gauge({
    name: "siteloom_queue_depth",
    help: "Jobs waiting in the queue",
    registers: queueDepth ? r : [],
    async collect() {
      if (queueDepth) this.set(await queueDepth());
    },
  });

  const onPipeline = (event: PipelineEvent) => {
    switch (event.type) {
      case "run-started":
        running.inc();
        break;
      case "run-finished":
        running.dec();
        runs.inc({ status: event.status });
        break;
      case "step-finished": {
        const { site, step, status } = event;
        steps.inc({ site, step, status });
        stepSeconds.observe({ step, status }, event.durationMs / 1000);
        if (event.bytes > 0) bytes.inc({ site, step }, event.bytes);
        for (const [item, n] of Object.entries(event.counts ?? {})) {
          if (n > 0 && /^[a-z][a-zA-Z]{0,30}$/.test(item)) items.inc({ site, step, item }, n);
        }
        if (status === "succeeded" && step === "deploy" && event.counts.uploaded) {
          filesUploaded.inc({ site }, event.counts.uploaded);
        }
        if (status === "succeeded" && step === "export" && event.counts.downloaded) {
          filesDownloaded.inc({ site }, event.counts.downloaded);
        }
        break;
      }
      case "lock-takeover":
        lockTakeovers.inc();
        break;
    }
  };
  const onActivity = (message: unknown) => {
    const a = message as ActivityEvent;
    switch (a.kind) {
      case "pipeline":
        onPipeline(a.event as PipelineEvent);
        break;
      case "llm.call": {
        const labels = { provider: a.provider, model: a.model, site: a.site };
        llmTokens.inc({ ...labels, direction: "input" }, a.inputTokens);
        llmTokens.inc({ ...labels, direction: "output" }, a.outputTokens);
        llmCost.inc(labels, a.costUsd);
        llmCalls.inc({ ...labels, accepted: String(a.ok) });
        break;
      }
      case "retry":
        retries.inc({ what: a.what });
        break;
      case "lock.wait":
        lockWaits.inc({ site: a.site });
        lockWaitSeconds.observe(a.ms / 1000);
        break;
    }
  };
  const onEvent = (message: unknown) => {
    const e = message as SiteloomEvent;
    if (e.action === "config.reload") reloads.inc({ outcome: e.outcome });
    else if (e.action === "config.write") configWrites.inc();
    // the API writes its changes without config.write events: its own entry, with the version made, stands for them
    else if ((e.action === "config.patch" || e.action === "config.rollback") && e.version !== undefined) {
      configWrites.inc();
    } else if (SECRET_ACTIONS.has(e.action)) secretAccesses.inc({ action: e.action, outcome: e.outcome });
  };

  return {
    registry,
    attach() {
      subscribe(ACTIVITY_CHANNEL, onActivity);
      subscribe(EVENTS_CHANNEL, onEvent);
      return () => {
        unsubscribe(ACTIVITY_CHANNEL, onActivity);
        unsubscribe(EVENTS_CHANNEL, onEvent);
      };
    },
    observeRequest(route, method, status, seconds) {
      requests.inc({ route, method, status: String(status) });
      requestSeconds.observe({ route, method }, seconds);
    },
    text: () => registry.metrics(),
  };
}

// --- internal ---

const SECRET_ACTIONS = new Set([
  "read",
  "reveal",
  "write",
  "rotate",
  "rollback",
  "delete",
  "list",
  "history",
  "export",
  "copy",
]);
