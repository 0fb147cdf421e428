import { createTransport } from "nodemailer";
import type { AlertChannelConfig } from "../../config/index.ts";
import { SiteloomError } from "../../errors.ts";
import { alertSubject, alertText } from "../payload.ts";
import { channelCa } from "./ca.ts";
import type { SendAlert } from "./types.ts";

/** Header naming the delivery's idempotency key in alert e-mails. */
export const EMAIL_ID_HEADER = "X-Siteloom-Alert-ID";

/**
 * One e-mail per alert through nodemailer: STARTTLS required (`starttls`), implicit TLS (`tls`) or plain (`none`),
 * with AUTH when a user is set. A refused login says which settings to check, never the password.
 */
export const sendEmail: SendAlert<Extract<AlertChannelConfig, { type: "email" }>> = async (config, payload, ctx) => {
  const pass = config.password ? await ctx.resolve(config.password, "password") : undefined;
  const ca = await channelCa(config);
  const transport = createTransport({
    host: config.host,
    port: config.port,
    secure: config.security === "tls",
    requireTLS: config.security === "starttls",
    ignoreTLS: config.security === "none",
    ...(config.user ? { auth: { user: config.user, pass: pass ?? "" } } : {}),
    ...(ca ? { tls: { ca } } : {}),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  try {
    await transport.sendMail({
      from: config.from,
      to: config.to,
      subject: alertSubject(payload),
      text: `${alertText(payload)}\n`,
      headers: { [EMAIL_ID_HEADER]: payload.id },
    });
  } catch (error) {
    const err = error as { code?: string; responseCode?: number };
    const why =
      err.code === "EAUTH"
        ? `the SMTP server refused the login (${err.responseCode ?? "EAUTH"}): check alerts.channels.${ctx.name}.user and password`
        : err.code === "ETLS" || err.code === "ESOCKET"
          ? `TLS or connection failure (${err.code}): check host, port, security and caFile`
          : `SMTP error ${err.responseCode ?? err.code ?? "unknown"}`;
    throw new SiteloomError("ERR_ALERT_SEND", `alert channel ${ctx.name}: ${why}`, { cause: error });
  } finally {
    transport.close();
  }
};
