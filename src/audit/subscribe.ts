import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { join } from "node:path";
import { EVENTS_CHANNEL, type SiteloomEvent } from "../events.ts";
import { appendAuditEntry } from "./log.ts";

/** The audit log of a workspace: `.siteloom/audit.log`. */
export function auditLogPath(workspace: { stateDir: string }): string {
  return join(workspace.stateDir, "audit.log");
}

/**
 * Subscribes the audit log to the events channel: every published event becomes an entry. Returns the function
 * that ends the subscription. Event fields are copied by name, so a value could never ride along.
 */
export function attachAuditLog(file: string, onError?: (error: unknown) => void): () => void {
  const listener = (message: unknown) => {
    const e = message as SiteloomEvent;
    if (e.audited) return;
    try {
      e.auditId = appendAuditEntry(file, {
        actor: e.actor,
        action: e.action,
        ref: e.ref,
        env: e.env,
        ...(e.store ? { store: e.store } : {}),
        outcome: e.outcome,
        ...(e.error ? { error: e.error } : {}),
        ...(e.version ? { version: e.version } : {}),
        ...(e.source ? { source: e.source } : {}),
        ...(e.site ? { site: e.site } : {}),
        ...(e.detail ? { detail: e.detail } : {}),
      }).hash;
    } catch (error) {
      onError?.(error);
    }
  };
  subscribe(EVENTS_CHANNEL, listener);
  return () => {
    unsubscribe(EVENTS_CHANNEL, listener);
  };
}

const attached = new Set<string>();

/**
 * Starts the audit log of a workspace for this process, once per log file: every event published from now on is
 * appended to `.siteloom/audit.log`. Called where a workspace is opened (the CLI's context, the server).
 */
export function attachWorkspaceAudit(workspace: { stateDir: string }, warn?: (line: string) => void): void {
  const file = auditLogPath(workspace);
  if (attached.has(file)) return;
  attached.add(file);
  attachAuditLog(file, (error) => warn?.(`could not write the audit log ${file}: ${(error as Error).message}`));
}
