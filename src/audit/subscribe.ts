import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { SECRETS_CHANNEL } from "../secrets/events.ts";
import type { SecretEvent } from "../secrets/types.ts";
import { appendAuditEntry } from "./log.ts";

/**
 * Subscribes the audit log to the secrets channel: every published access becomes an entry. Returns the function
 * that ends the subscription. Event fields are copied by name, so a value could never ride along.
 */
export function attachAuditLog(file: string, onError?: (error: unknown) => void): () => void {
  const listener = (message: unknown) => {
    const e = message as SecretEvent;
    try {
      appendAuditEntry(file, {
        actor: e.actor,
        action: e.action,
        ref: e.ref,
        env: e.env,
        store: e.store,
        outcome: e.outcome,
        ...(e.error ? { error: e.error } : {}),
        ...(e.version ? { version: e.version } : {}),
      });
    } catch (error) {
      onError?.(error);
    }
  };
  subscribe(SECRETS_CHANNEL, listener);
  return () => {
    unsubscribe(SECRETS_CHANNEL, listener);
  };
}
