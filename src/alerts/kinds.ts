import type { SiteloomEvent } from "../events.ts";

/** An alert kind (config/schema.ts ALERT_KINDS). */
export type AlertKind = typeof import("../config/index.ts").ALERT_KINDS[number];

/** What production alerts on without a rule (`alerts.productionDefaults`). */
export const PRODUCTION_DEFAULT_KINDS: readonly AlertKind[] = [
  "secret.reveal",
  "secret.rotate",
  "config.update",
  "config.rollback",
  "run.failed",
];

const SECRET_KINDS: Record<string, AlertKind> = {
  reveal: "secret.reveal",
  rotate: "secret.rotate",
  write: "secret.write",
  delete: "secret.delete",
};

const OTHER_KINDS: Record<string, AlertKind> = {
  "config.write": "config.update",
  // the HTTP API's own entries for its changes (it writes the files without a config.write event of their own)
  "config.patch": "config.update",
  "config.rollback": "config.rollback",
  "tokens.create": "token.create",
  "tokens.revoke": "token.revoke",
  "run.failed": "run.failed",
  "deploy.verify-mismatch": "deploy.verify-mismatch",
  "lock.takeover": "lock.takeover",
  "budget.threshold": "budget.threshold",
};

/**
 * The alert kind of an event, if it has one: a successful secret change or reveal, a config write, a token change,
 * a failed run, a verify mismatch, a lock takeover. A refused API request is `auth.denied` (counted before it
 * alerts, see alerter.ts). Failed attempts of other actions are not alerts (the audit log keeps them).
 */
export function alertKindOf(event: SiteloomEvent): AlertKind | undefined {
  if (event.outcome === "denied") return "auth.denied";
  const secret = SECRET_KINDS[event.action];
  if (secret) return event.outcome === "ok" ? secret : undefined;
  const kind = OTHER_KINDS[event.action];
  if (!kind) return undefined;
  // these are failures by nature; the others alert only when they happened
  if (kind === "run.failed" || kind === "deploy.verify-mismatch") return kind;
  // an API change carries the version it made; without one it changed nothing (a patch equal to the file)
  if (event.action === "config.patch" || event.action === "config.rollback") {
    return event.outcome === "ok" && event.version !== undefined ? kind : undefined;
  }
  return event.outcome === "ok" ? kind : undefined;
}

/** The site an event concerns: its `site`, or the scope of a `secret://<site>/NAME` reference. */
export function siteOf(event: SiteloomEvent): string | undefined {
  if (event.site) return event.site;
  const match = /^secret:\/\/([^/]+)\//.exec(event.ref);
  return match && match[1] !== "global" ? match[1] : undefined;
}
