import type { SiteloomEvent } from "../events.ts";
import { redact } from "../secret.ts";
import type { AlertKind } from "./kinds.ts";

/** What an alert says, on every channel. Never a secret value or a token: names, places, times and ids only. */
export interface AlertPayload {
  /** The delivery's idempotency key (`<alert>/<channel>`); filled in per channel when sent. */
  id?: string;
  /** The alert's key, the same on every channel. */
  alert: string;
  kind: AlertKind | "test";
  /** One line: what happened. */
  summary: string;
  /** Token name or OS user. */
  actor: string;
  environment: string;
  site: string | undefined;
  host: string;
  time: string;
  /** What was acted on: a secret reference (never its value), a config file, a token name, a run. */
  ref: string;
  outcome: string;
  detail: string | undefined;
  /** The audit entry: its hash in `.siteloom/audit.log`, and a link to GET /audit when alerts.auditUrl is set. */
  audit: { id: string | undefined; url: string | undefined };
}

const VERBS: Record<string, string> = {
  "secret.reveal": "revealed",
  "secret.rotate": "rotated",
  "secret.write": "written",
  "secret.delete": "deleted",
  "config.update": "changed",
  "config.rollback": "rolled back",
  "token.create": "created",
  "token.revoke": "revoked",
  "auth.denied": "refused repeatedly",
  "run.failed": "failed",
  "deploy.verify-mismatch": "differs on the server after upload",
  "lock.takeover": "taken over from a stopped holder",
  "budget.threshold": "reached",
};

/** Builds the payload of an event's alert (the masked detail and the audit link included). */
export function alertPayload(input: {
  alert: string;
  kind: AlertKind;
  event: SiteloomEvent;
  site: string | undefined;
  host: string;
  auditUrl: string | undefined;
}): AlertPayload {
  const { event } = input;
  const time = new Date().toISOString();
  const what = input.kind.startsWith("secret.")
    ? `secret ${event.ref}`
    : input.kind.startsWith("token.")
      ? `token "${event.ref}"`
      : event.ref;
  return {
    alert: input.alert,
    kind: input.kind,
    summary: redact(`${what} ${VERBS[input.kind] ?? input.kind} by ${event.actor}`),
    actor: event.actor,
    environment: event.env,
    site: input.site,
    host: input.host,
    time,
    ref: redact(event.ref),
    outcome: event.outcome,
    detail: event.detail === undefined ? undefined : redact(event.detail),
    audit: { id: event.auditId, url: auditLink(input.auditUrl, event, time) },
  };
}

/** The alert as plain text (e-mail bodies, Slack messages). */
export function alertText(p: AlertPayload): string {
  const where = [`environment ${p.environment || "-"}`, p.site ? `site ${p.site}` : "", `host ${p.host}`]
    .filter(Boolean)
    .join(", ");
  return [
    `What:  ${p.summary}`,
    `Who:   ${p.actor}`,
    `Where: ${where}`,
    `When:  ${p.time}`,
    ...(p.detail ? [`Detail: ${p.detail}`] : []),
    `Audit: ${p.audit.id ? `entry ${p.audit.id}` : "see siteloom audit"}${p.audit.url ? ` ${p.audit.url}` : ""}`,
    `Alert id: ${p.id ?? p.alert}`,
  ].join("\n");
}

/** The subject line of an alert (e-mail) and the first line of a Slack message. */
export function alertSubject(p: AlertPayload): string {
  return `[siteloom] ${p.environment || "-"}: ${p.kind}${p.site ? ` (${p.site})` : ""} - ${p.summary}`.slice(0, 200);
}

// --- internal ---

function auditLink(base: string | undefined, event: SiteloomEvent, time: string): string | undefined {
  if (!base) return undefined;
  const url = new URL("audit", base.endsWith("/") ? base : `${base}/`);
  // a minute back: the entry was written before the alert was made
  url.searchParams.set("since", new Date(Date.parse(time) - 60_000).toISOString());
  url.searchParams.set("action", event.action);
  if (event.ref) url.searchParams.set("key", redact(event.ref));
  return url.toString();
}
