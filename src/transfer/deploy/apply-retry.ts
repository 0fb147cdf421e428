// The retries of one file's (or folder's) operation during an apply: backoff from the deploy settings, counted,
// reported, and a failure recorded in the result when out of tries.
import { SiteloomError } from "../../errors.ts";
import { currentActor, publishActivity, publishEvent } from "../../events.ts";
import { runWithRetry } from "../../retry.ts";
import { redact } from "../../secret.ts";
import { isMissingError } from "../pool.ts";
import type { RemoteFS } from "../types.ts";
import { type ApplyRun, progressCounts } from "./apply-context.ts";
import { replyLine } from "./remote-manifest.ts";
import type { DeployOptions } from "./run.ts";

/** `deploy.retries`, `retryBaseMs`, `retryMaxMs` as `runWithRetry` options. */
export function deployBackoff(config: DeployOptions["config"], random: () => number) {
  return { retries: config.retries, baseMs: config.retryBaseMs, maxMs: config.retryMaxMs, random };
}

/**
 * Runs `op` on a pooled connection with exponential backoff and full jitter; records the failure when out of tries.
 * True when it succeeded (or, with `missingOk`, found nothing to act on).
 */
export async function withRetries(
  ctx: ApplyRun,
  path: string,
  op: (fs: RemoteFS) => Promise<void>,
  opts: { missingOk?: boolean } = {},
): Promise<boolean> {
  const missing = (error: unknown) => opts.missingOk === true && isMissingError(error);
  try {
    await runWithRetry(() => ctx.pool.run(op), {
      ...deployBackoff(ctx.options.config, ctx.random),
      classify: (error) => ({
        retry: !missing(error) && !(error instanceof SiteloomError && error.code === "ERR_TRANSFER_UNSAFE_PATH"),
      }),
      onRetry: ({ error }) => {
        ctx.result.stats.retries++;
        publishActivity({ kind: "retry", what: "deploy", site: ctx.options.site });
        const message = replyLine(error);
        ctx.progress({ ...progressCounts(ctx), phase: "assets", done: 0, total: 0, path, outcome: "retry", message });
      },
    });
    return true;
  } catch (error) {
    if (missing(error)) return true;
    const message = replyLine(error);
    ctx.result.failures.push({ path, message });
    ctx.result.stats.failed++;
    if (/(size|hash) check failed after upload/.test(message)) _verifyMismatch(ctx, path, message);
    return false;
  }
}

// --- internal ---

/** A file the server kept differently from what was sent, after every retry: an alert-worthy event. */
function _verifyMismatch(ctx: ApplyRun, path: string, message: string): void {
  publishEvent({
    action: "deploy.verify-mismatch",
    ref: `${ctx.options.site}:${path}`,
    env: ctx.options.env,
    actor: currentActor(),
    outcome: "error",
    error: "ERR_TRANSFER_IO",
    site: ctx.options.site,
    detail: redact(message).slice(0, 200),
  });
}
