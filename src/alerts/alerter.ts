import { randomBytes, randomUUID } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { hostname } from "node:os";
import type { AlertsConfig } from "../config/index.ts";
import {
  ACTIVITY_CHANNEL,
  type ActivityEvent,
  currentActor,
  EVENTS_CHANNEL,
  publishEvent,
  type SiteloomEvent,
} from "../events.ts";
import { isProcessAlive } from "../processes.ts";
import { runWithRetry } from "../retry.ts";
import { redact, type Secret } from "../secret.ts";
import type { AlertDelivery, StateStore } from "../store/index.ts";
import { sendAlert } from "./channels/index.ts";
import { type AlertKind, alertKindOf, siteOf } from "./kinds.ts";
import { type AlertPayload, alertPayload } from "./payload.ts";
import { alertsEnabled, channelsFor } from "./rules.ts";

export interface AlerterOptions {
  store: StateStore;
  /** The `alerts` section in force, read per event so a reload applies at once; undefined turns alerts off. */
  config: () => AlertsConfig | undefined;
  /** Environment of events that carry none (token changes). */
  env: string;
  /** Resolves a channel credential (reference or literal) at use. */
  resolve: (value: string, field: string) => Promise<Secret>;
  /** Where a send failure is told (never thrown at the action that caused the alert). */
  warn?: (line: string) => void;
  /** Host named in alerts. @default os.hostname() */
  host?: string;
  /** Start sending as soon as something is queued. @default true */
  sendNow?: boolean;
}

/** The result of one delivery attempt round. */
export interface DeliveryResult {
  id: string;
  channel: string;
  kind: string;
  sent: boolean;
  error?: string;
  /** When a failed delivery is tried again. */
  nextAttempt?: string;
}

export interface Alerter {
  /** Turns one event into queued deliveries (never throws). */
  handleEvent(event: SiteloomEvent): void;
  /** Budget spend becomes budget.threshold alerts (never throws). */
  handleActivity(event: ActivityEvent): void;
  /** Queues a test alert on one channel or all; returns the deliveries' ids. */
  queueTest(channel?: string): Promise<string[]>;
  /**
   * Sends due deliveries now, one round each (src/retry.ts with backoff inside the round); failures stay queued with a
   * later next attempt. `all` sends those not yet due too.
   */
  flush(options?: { all?: boolean }): Promise<DeliveryResult[]>;
  /** Resolves when no send is in flight. */
  idle(): Promise<void>;
  /** Subscribes to the events and activity channels; returns the unsubscribe. */
  attach(): () => void;
}

/** A claim lasts this long; a process that died holding one is recognised sooner (same host, pid gone). */
const CLAIM_LEASE_MS = 120_000;
/** The longest wait between rounds of a failing delivery. */
const MAX_LATER_MS = 3_600_000;

/**
 * Alerts from events: each event with an alert kind is matched against the rules; one delivery per channel is queued
 * in the state store (durable before the event's action returns, on SQLite) and sent in the background. Sending
 * never throws at the action: a failed send stays queued, is retried later with backoff, and is reported by
 * `siteloom alerts list`. Every delivery carries an idempotency key (`<alert>/<channel>`).
 */
export function createAlerter(options: AlerterOptions): Alerter {
  const host = options.host ?? hostname();
  const owner = `${host}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const warn = options.warn ?? (() => {});
  const denied = new Map<string, number[]>();
  let inFlight: Promise<unknown> = Promise.resolve();
  let draining = false;
  let again = false;

  const enqueue = (kind: AlertKind | "test", alert: string, channels: string[], payload: AlertPayload) =>
    Promise.all(
      channels.map((channel) =>
        options.store.enqueueAlert({
          id: `${alert}/${channel}`,
          alertKey: alert,
          kind,
          channel,
          payload: payload as unknown as Record<string, unknown>,
        }),
      ),
    );

  const schedule = () => {
    if (options.sendNow === false) return;
    if (draining) {
      again = true;
      return;
    }
    draining = true;
    inFlight = (async () => {
      try {
        do {
          again = false;
          await alerter.flush();
        } while (again);
      } catch (error) {
        warn(`alerts: ${redact((error as Error).message)}`);
      } finally {
        draining = false;
      }
    })();
  };

  const queueEvent = (event: SiteloomEvent, kind: AlertKind, alert: string) => {
    const config = options.config();
    if (!alertsEnabled(config)) return;
    const site = siteOf(event);
    const env = event.env && event.env !== "-" ? event.env : options.env;
    const channels = channelsFor(config, { kind, env, site });
    if (channels.length === 0) return;
    const payload = alertPayload({ alert, kind, event: { ...event, env }, site, host, auditUrl: config.auditUrl });
    void enqueue(kind, alert, channels, payload).then(schedule, (error: Error) =>
      warn(`alerts: could not queue a ${kind} alert: ${redact(error.message)}`),
    );
  };

  const alerter: Alerter = {
    handleEvent(event) {
      try {
        const kind = alertKindOf(event);
        if (!kind || kind === "budget.threshold") return;
        if (kind === "auth.denied") return _denied(event);
        queueEvent(event, kind, `${kind}:${randomUUID()}`);
      } catch (error) {
        warn(`alerts: ${redact((error as Error).message)}`);
      }
    },

    handleActivity(activity) {
      if (activity.kind !== "budget.spend" || activity.maxUsd <= 0) return;
      try {
        const config = options.config();
        if (!alertsEnabled(config)) return;
        const percent = (activity.spentUsd / activity.maxUsd) * 100;
        for (const threshold of config.budgetThresholds) {
          if (percent < threshold) continue;
          const detail = `${activity.spentUsd.toFixed(2)} of ${activity.maxUsd} USD spent in ${activity.month} (${threshold} % threshold)`;
          const event: SiteloomEvent = {
            action: "budget.threshold",
            ref: `budget:${activity.month}:${threshold}%`,
            env: options.env,
            actor: currentActor(),
            outcome: "ok",
            detail,
          };
          const channels = channelsFor(config, { kind: "budget.threshold", env: options.env, site: undefined });
          if (channels.length === 0) continue;
          // the key makes it once per month and threshold, whichever process crossed it first
          const alert = `budget.threshold:${activity.month}:${threshold}`;
          void enqueue("budget.threshold", alert, channels, _payload(event, "budget.threshold", alert, config)).then(
            (added) => {
              if (!added.some(Boolean)) return;
              publishEvent(event);
              schedule();
            },
            (error: Error) => warn(`alerts: could not queue a budget alert: ${redact(error.message)}`),
          );
        }
      } catch (error) {
        warn(`alerts: ${redact((error as Error).message)}`);
      }
    },

    async queueTest(channel) {
      const config = options.config();
      const names = Object.keys(config?.channels ?? {});
      if (channel !== undefined && !names.includes(channel)) {
        throw new Error(`no alert channel "${channel}"; the channels are ${names.join(", ") || "(none)"}`);
      }
      const chosen = channel === undefined ? names : [channel];
      const alert = `test:${randomUUID()}`;
      const event: SiteloomEvent = {
        action: "list",
        ref: "alert test",
        env: options.env,
        actor: currentActor(),
        outcome: "ok",
        detail: "a test message sent by `siteloom alerts test`",
      };
      const payload: AlertPayload = { ..._payload(event, "test" as AlertKind, alert, config), kind: "test" };
      payload.summary = `test alert from siteloom on ${host}`;
      await enqueue("test", alert, chosen, payload);
      return chosen.map((c) => `${alert}/${c}`);
    },

    async flush(flushOptions = {}) {
      const results: DeliveryResult[] = [];
      const config = options.config();
      for (;;) {
        const batch = await options.store.claimAlerts(owner, {
          limit: 20,
          leaseMs: CLAIM_LEASE_MS,
          ...(flushOptions.all ? { now: "9999" } : {}),
          isStale: _isStaleOwner,
        });
        if (batch.length === 0) break;
        results.push(...(await Promise.all(batch.map((d) => _deliver(d, config)))));
        if (batch.length < 20) break;
      }
      return results;
    },

    async idle() {
      for (;;) {
        const current = inFlight;
        await current;
        if (current === inFlight && !draining) return;
      }
    },

    attach() {
      const onEvent = (message: unknown) => alerter.handleEvent(message as SiteloomEvent);
      const onActivity = (message: unknown) => alerter.handleActivity(message as ActivityEvent);
      subscribe(EVENTS_CHANNEL, onEvent);
      subscribe(ACTIVITY_CHANNEL, onActivity);
      // deliveries left by an earlier process (killed, or its receiver was down) go out now if due
      schedule();
      return () => {
        unsubscribe(EVENTS_CHANNEL, onEvent);
        unsubscribe(ACTIVITY_CHANNEL, onActivity);
      };
    },
  };
  return alerter;

  function _payload(event: SiteloomEvent, kind: AlertKind, alert: string, config: AlertsConfig | undefined) {
    return alertPayload({ alert, kind, event, site: siteOf(event), host, auditUrl: config?.auditUrl });
  }

  /** Refusals are counted per address and actor; the count-th within the window raises one alert. */
  function _denied(event: SiteloomEvent): void {
    const config = options.config();
    if (!alertsEnabled(config)) return;
    const key = `${event.source ?? "-"}|${event.actor}`;
    const windowMs = config.authDenied.windowMinutes * 60_000;
    const now = Date.now();
    const times = (denied.get(key) ?? []).filter((t) => now - t < windowMs);
    times.push(now);
    // moved to the end: the map is ordered by last refusal, so the key dropped past 10,000 is the stalest one
    denied.delete(key);
    denied.set(key, times);
    if (denied.size > 10_000) denied.delete(denied.keys().next().value as string);
    if (times.length !== config.authDenied.count) return;
    const detail = `${times.length} refused requests from ${event.source ?? "an unknown address"} within ${config.authDenied.windowMinutes} min`;
    queueEvent({ ...event, detail }, "auth.denied", `auth.denied:${randomUUID()}`);
  }

  async function _deliver(delivery: AlertDelivery, config: AlertsConfig | undefined): Promise<DeliveryResult> {
    const base = { id: delivery.id, channel: delivery.channel, kind: delivery.kind };
    const channel = config?.channels[delivery.channel];
    try {
      if (!channel) throw new Error(`alert channel ${delivery.channel} is not configured (any more)`);
      const payload = { ...(delivery.payload as unknown as AlertPayload), id: delivery.id };
      const ctx = {
        name: delivery.channel,
        resolve: async (value: string, field: string) =>
          (await options.resolve(value, `alerts.channels.${delivery.channel}.${field}`)).reveal(),
      };
      await runWithRetry(() => sendAlert(channel, payload, ctx), {
        retries: Math.max(0, (config?.attempts ?? 3) - 1),
        baseMs: config?.retryBaseMs ?? 1000,
        // within a round every failure is worth another try; what is left is kept for a later round
        classify: () => ({ retry: true }),
      });
      await options.store.finishAlert(delivery.id, { sent: true });
      return { ...base, sent: true };
    } catch (error) {
      const message = redact((error as Error).message).slice(0, 500);
      const later = Math.min(MAX_LATER_MS, (config?.retryLaterMs ?? 60_000) * 2 ** delivery.attempts);
      const nextAttempt = new Date(Date.now() + later).toISOString();
      await options.store.finishAlert(delivery.id, { sent: false, error: message, nextAttempt });
      warn(`${message}; the alert is kept and tried again after ${nextAttempt}`);
      return { ...base, sent: false, error: message, nextAttempt };
    }
  }

  function _isStaleOwner(claimOwner: string): boolean {
    const [claimHost, pid] = claimOwner.split(":");
    return claimHost === host && claimOwner !== owner && !isProcessAlive(Number(pid));
  }
}
