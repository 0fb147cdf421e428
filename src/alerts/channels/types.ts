import type { AlertChannelConfig } from "../../config/index.ts";
import type { AlertPayload } from "../payload.ts";

/** What a channel gets besides the alert: credentials resolved at use (never kept), and the channel's name. */
export interface ChannelContext {
  /** The channel's key in alerts.channels (for messages). */
  name: string;
  /** Resolves a credential field of the channel (`key`, `password`, `url`) at use; the value is never stored. */
  resolve(value: string, field: string): Promise<string>;
}

/** Sends one alert on one channel; throws (a masked, one-line error) when the receiver did not take it. */
export type SendAlert<C extends AlertChannelConfig = AlertChannelConfig> = (
  config: C,
  payload: AlertPayload & { id: string },
  ctx: ChannelContext,
) => Promise<void>;
