import { channel } from "node:diagnostics_channel";
import { userInfo } from "node:os";

/**
 * Name of the diagnostics channel every domain publishes on: secret accesses, config writes, token changes. The audit
 * log subscribes to it (audit/), so no domain imports the audit log and the log imports no domain.
 */
export const EVENTS_CHANNEL = "siteloom:events";

/** What an event records. Secret actions first, then the workspace-wide ones. */
export type EventAction =
  | "read"
  | "reveal"
  | "write"
  | "rotate"
  | "rollback"
  | "delete"
  | "list"
  | "history"
  | "unlock"
  | "init"
  | "recipients"
  | "export"
  | "copy"
  | "config.write"
  | "tokens.create"
  | "tokens.list"
  | "tokens.revoke"
  | "wordpress.publish"
  | "wordpress.upload"
  | "wordpress.unpublish"
  | "wordpress.trash"
  | "articles.approve"
  | "articles.reject"
  | "articles.edit"
  | "run.failed"
  | "deploy.verify-mismatch"
  | "lock.takeover"
  | "budget.threshold"
  // what the HTTP API records through its own audit sink (config.patch, config.reload, secrets.set, ...)
  | `${"config" | "secrets" | "tokens" | "runs" | "audit" | "metrics"}.${string}`;

/** One event as published on `siteloom:events`; never carries a value (secret, token or file content). */
export interface SiteloomEvent {
  action: EventAction;
  /**
   * What was acted on: `secret://scope/NAME` (with `?version=N` when one was asked for), `store:<name>` for
   * store-wide actions, `<file>#<path>` for a config write, a token name.
   */
  ref: string;
  /** The secret store concerned, when there is one. */
  store?: string;
  env: string;
  actor: string;
  outcome: "ok" | "not-found" | "denied" | "error";
  /** Short error code on failure (ERR_SECRET_LOCKED, ...). */
  error?: string;
  version?: number;
  /** Where the action came from when it is not obvious (`cli`). */
  source?: string;
  /** The site concerned, when there is one (runs, deploys, locks, budgets). */
  site?: string;
  /** A short, already-masked description for alerts ("2 of 3 site(s) failed", "80 % of 50 USD"). */
  detail?: string;
  /**
   * Set when the event was already written to the audit log by its publisher (the HTTP API's audit sink), so the
   * audit subscriber does not write it a second time; alerts and metrics still see it.
   */
  audited?: boolean;
  /**
   * The hash of the event's audit entry, set by the audit subscriber once written (subscribers after it, alerts, see
   * it), or by the publisher for `audited` events.
   */
  auditId?: string;
}

const eventsChannel = channel(EVENTS_CHANNEL);

/** Publishes an event (a no-op while nothing listens). */
export function publishEvent(event: SiteloomEvent): void {
  if (eventsChannel.hasSubscribers) eventsChannel.publish(event);
}

/** Who is acting: SITELOOM_ACTOR (CI, API token names), else the OS user. */
export function currentActor(vars: Record<string, string | undefined> = process.env): string {
  if (vars.SITELOOM_ACTOR) return vars.SITELOOM_ACTOR;
  try {
    return userInfo().username;
  } catch {
    return vars.USER ?? "unknown";
  }
}

/**
 * Name of the diagnostics channel of activity worth counting but not auditing: pipeline progress, model calls, HTTP
 * retries. Metrics subscribe to it; nothing on it is a secret or a file's content.
 */
export const ACTIVITY_CHANNEL = "siteloom:activity";

/** One piece of activity as published on `siteloom:activity`. */
export type ActivityEvent =
  | {
      kind: "pipeline";
      /** A pipeline event (pipeline/types.ts `PipelineEvent`), as the pipeline emitted it. */
      event: { type: string };
    }
  | {
      kind: "llm.call";
      provider: string;
      model: string;
      site: string;
      inputTokens: number;
      outputTokens: number;
      costUsd: number;
      ok: boolean;
    }
  | { kind: "budget.spend"; month: string; spentUsd: number; maxUsd: number }
  | { kind: "retry"; what: string; site?: string | undefined }
  | { kind: "lock.wait"; site: string; ms: number };

const activityChannel = channel(ACTIVITY_CHANNEL);

/** Publishes activity (a no-op while nothing listens). */
export function publishActivity(event: ActivityEvent): void {
  if (activityChannel.hasSubscribers) activityChannel.publish(event);
}

/** Whether anything counts activity (lets a publisher skip work done only to publish). */
export function activityWanted(): boolean {
  return activityChannel.hasSubscribers;
}
