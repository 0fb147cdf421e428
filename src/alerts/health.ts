import type { AlertsConfig } from "../config/index.ts";
import type { AlertDelivery } from "../store/index.ts";

/** How one channel is doing, from its queued deliveries. */
export interface ChannelHealth {
  channel: string;
  type: string;
  sent: number;
  pending: number;
  /** Pending deliveries that failed at least once: kept, tried again later. */
  failing: number;
  lastError: string | undefined;
  /** `ok`, `failing` (deliveries kept after failures) or `unknown` (a rule names a channel that does not exist). */
  state: "ok" | "failing" | "unknown";
}

/** Channel states from recent deliveries (`siteloom alerts list`, `siteloom status`). */
export function channelHealth(config: AlertsConfig, deliveries: readonly AlertDelivery[]): ChannelHealth[] {
  const names = new Set([...Object.keys(config.channels), ...config.rules.flatMap((r) => r.channels)]);
  for (const d of deliveries) names.add(d.channel);
  return [...names].sort().map((channel) => {
    const mine = deliveries.filter((d) => d.channel === channel);
    const failing = mine.filter((d) => d.status === "pending" && d.attempts > 0);
    const known = Object.hasOwn(config.channels, channel);
    return {
      channel,
      type: config.channels[channel]?.type ?? "-",
      sent: mine.filter((d) => d.status === "sent").length,
      pending: mine.filter((d) => d.status === "pending").length,
      failing: failing.length,
      lastError: failing[0]?.lastError,
      state: !known ? "unknown" : failing.length > 0 ? "failing" : "ok",
    };
  });
}
