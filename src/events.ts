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
  | "articles.edit";

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
