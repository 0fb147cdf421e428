import type { AlertChannelConfig } from "../../config/index.ts";
import { sendEmail } from "./email.ts";
import { sendSlack } from "./slack.ts";
import type { SendAlert } from "./types.ts";
import { sendWebhook } from "./webhook.ts";

export { EMAIL_ID_HEADER } from "./email.ts";
export type { ChannelContext, SendAlert } from "./types.ts";
export { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from "./webhook.ts";

/** The channel types, by `type`: one file each. */
const CHANNELS: { [T in AlertChannelConfig["type"]]: SendAlert<Extract<AlertChannelConfig, { type: T }>> } = {
  webhook: sendWebhook,
  slack: sendSlack,
  email: sendEmail,
};

/** Sends one alert on a configured channel. */
export const sendAlert: SendAlert = (config, payload, ctx) =>
  (CHANNELS[config.type] as SendAlert)(config, payload, ctx);
