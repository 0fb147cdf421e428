import type { AlertChannelConfig } from "../../config/index.ts";
import { alertSubject, alertText } from "../payload.ts";
import { postJson } from "./http.ts";
import type { SendAlert } from "./types.ts";

/** Slack incoming-webhook payload: `text` (the fallback line) and one section block with the details. */
export const sendSlack: SendAlert<Extract<AlertChannelConfig, { type: "slack" }>> = async (config, payload, ctx) => {
  const body = JSON.stringify({
    text: alertSubject(payload),
    blocks: [
      { type: "header", text: { type: "plain_text", text: alertSubject(payload).slice(0, 150) } },
      { type: "section", text: { type: "mrkdwn", text: `\`\`\`${alertText(payload).replaceAll("```", "'''")}\`\`\`` } },
    ],
  });
  await postJson(ctx.name, await ctx.resolve(config.url, "url"), body, {}, { timeoutMs: config.timeoutMs });
};
