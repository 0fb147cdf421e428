import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { SiteloomError } from "../errors.ts";
import { EVENTS_CHANNEL, type SiteloomEvent } from "../events.ts";
import { closeWhenSettled, trackPending } from "../pending.ts";
import { isConnectionError } from "../store/index.ts";
import type { AuditInput } from "./log.ts";
import { type AuditTrail, createFileAuditTrail } from "./trail.ts";

/**
 * Subscribes an audit trail to the events channel: every published event becomes an entry. Returns the function
 * that ends the subscription. Event fields are copied by name, so a value could never ride along. The file log
 * writes before the event's publisher goes on (and gives later subscribers the entry's hash as `auditId`); a shared
 * store appends in the background, in publishing order, and the CLI waits for those appends before it exits.
 */
export function attachAuditTrail(trail: AuditTrail, onError?: (error: unknown) => void): () => void {
  let chain: Promise<unknown> = Promise.resolve();
  const listener = (message: unknown) => {
    const e = message as SiteloomEvent;
    if (e.audited) return;
    const input = _inputOf(e);
    if (trail.appendSync) {
      try {
        e.auditId = trail.appendSync(input).hash;
      } catch (error) {
        onError?.(error);
      }
      return;
    }
    chain = chain.then(() => trail.append(input)).catch((error: unknown) => onError?.(error));
    trackPending(chain);
  };
  subscribe(EVENTS_CHANNEL, listener);
  return () => {
    unsubscribe(EVENTS_CHANNEL, listener);
  };
}

/** `attachAuditTrail` on the audit log file. */
export function attachAuditLog(file: string, onError?: (error: unknown) => void): () => void {
  return attachAuditTrail(createFileAuditTrail(file), onError);
}

const attached = new Set<string>();

/**
 * Starts the audit trail of a workspace for this process, once per trail: every event published from now on is
 * appended to it (see `openWorkspaceAuditTrail` of workspace/ for which one). Called where a workspace is opened
 * (the CLI's context); the trail is closed once the command's appends are done.
 */
export function attachWorkspaceAudit(trail: AuditTrail, warn?: (line: string) => void): void {
  if (attached.has(trail.location)) {
    void trail.close();
    return;
  }
  attached.add(trail.location);
  // A store that cannot be reached is tried once (for the trail's short reconnect window, see
  // openWorkspaceAuditTrail); the command's later entries are not sent to it, and one line says so.
  let unreachable = false;
  let skipped = 0;
  const guarded: AuditTrail = {
    ...trail,
    async append(input) {
      if (unreachable) {
        skipped++;
        throw new SiteloomError("ERR_STORE", "skipped: the store is unreachable");
      }
      try {
        return await trail.append(input);
      } catch (error) {
        if (isConnectionError((error as Error).cause ?? error)) unreachable = true;
        throw error;
      }
    },
  };
  attachAuditTrail(guarded, (error) => {
    if (unreachable && skipped > 0) return;
    const lost = unreachable ? "; this command's audit entries are not recorded" : "";
    warn?.(`could not write the audit log ${trail.location}: ${(error as Error).message}${lost}`);
  });
  closeWhenSettled(() => trail.close());
}

// --- internal ---

function _inputOf(e: SiteloomEvent): AuditInput {
  return {
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
  };
}
