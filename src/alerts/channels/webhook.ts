import { createHmac } from "node:crypto";
import type { AlertChannelConfig } from "../../config/index.ts";
import { channelCa } from "./ca.ts";
import { postJson } from "./http.ts";
import type { SendAlert } from "./types.ts";

/** Header carrying `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export const SIGNATURE_HEADER = "x-siteloom-signature";
/** Header carrying the Unix time (seconds) that the signature covers; receivers refuse old ones (replays). */
export const TIMESTAMP_HEADER = "x-siteloom-timestamp";
/** Header carrying the delivery's idempotency key (also `id` in the body). */
export const IDEMPOTENCY_HEADER = "idempotency-key";

/** The signature a receiver recomputes: HMAC-SHA256 over `<timestamp>.<body>` with the shared key, hex. */
export function signWebhook(key: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", key).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** JSON POST of the payload, signed when the channel has a key. */
export const sendWebhook: SendAlert<Extract<AlertChannelConfig, { type: "webhook" }>> = async (
  config,
  payload,
  ctx,
) => {
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { [TIMESTAMP_HEADER]: timestamp, [IDEMPOTENCY_HEADER]: payload.id };
  if (config.key) headers[SIGNATURE_HEADER] = signWebhook(await ctx.resolve(config.key, "key"), timestamp, body);
  await postJson(ctx.name, config.url, body, headers, { timeoutMs: config.timeoutMs, ca: await channelCa(config) });
};
