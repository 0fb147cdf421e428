export { type Alerter, type AlerterOptions, createAlerter, type DeliveryResult } from "./alerter.ts";
export { attachWorkspaceAlerts } from "./attach.ts";
export {
  EMAIL_ID_HEADER,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
} from "./channels/index.ts";
export { type ChannelHealth, channelHealth } from "./health.ts";
export { type AlertKind, alertKindOf, PRODUCTION_DEFAULT_KINDS, siteOf } from "./kinds.ts";
export { type AlertPayload, alertPayload, alertSubject, alertText } from "./payload.ts";
export { alertsEnabled, channelsFor } from "./rules.ts";
