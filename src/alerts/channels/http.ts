import { Agent, request } from "undici";
import { SiteloomError } from "../../errors.ts";

/**
 * POSTs a JSON body; any status outside 2xx, a timeout or a connection error throws ERR_ALERT_SEND naming the channel
 * and the status or error code only: the URL may itself be a credential (Slack), so it is never quoted.
 */
export async function postJson(
  name: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; ca?: string | undefined },
): Promise<void> {
  const { ca } = options;
  const dispatcher = new Agent({
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: { timeout: options.timeoutMs, ...(ca ? { ca } : {}) },
  });
  try {
    const response = await request(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "user-agent": "siteloom-alerts", ...headers },
      dispatcher,
    }).catch((error: NodeJS.ErrnoException) => {
      throw new SiteloomError(
        "ERR_ALERT_SEND",
        `alert channel ${name}: the receiver could not be reached (${error.code ?? error.name})`,
        { cause: error },
      );
    });
    await response.body.dump();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new SiteloomError(
        "ERR_ALERT_SEND",
        `alert channel ${name}: the receiver answered HTTP ${response.statusCode}`,
      );
    }
  } finally {
    await dispatcher.close();
  }
}
