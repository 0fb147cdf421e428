import pLimit from "p-limit";
import { Agent, request } from "undici";
import { SiteloomError } from "../errors.ts";
import { publishActivity } from "../events.ts";
import { isRetryableStatus, parseRetryAfter, RetryableError, runWithRetry } from "../retry.ts";
import type { Secret } from "../secret.ts";
import { decodeResponse, encodeCall, type XmlRpcValue } from "./xmlrpc.ts";

export interface WordpressClientOptions {
  /** Site URL (`https://blog.example.com`); the REST API is at `<url>/wp-json/`, XML-RPC at `<url>/xmlrpc.php`. */
  url: string;
  user: string;
  /** The application password; sent only in the Authorization header (or XML-RPC body), never printed. */
  appPassword: Secret;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | undefined;
  /** Requests at once. @default 2 */
  concurrency?: number;
  /** Timeout of one request. @default 30000 */
  timeoutMs?: number;
  /** Retries on 408/409/425/429/5xx (`isRetryableStatus`) and connection errors. @default 4 */
  retries?: number;
  /** First retry delay, doubling. @default 500 */
  retryBaseMs?: number;
  /** Longest wait between two tries, `Retry-After` included. @default 30000 */
  retryMaxMs?: number;
  signal?: AbortSignal | undefined;
  /** Told about every retry (for progress lines). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

/** A binary body (media upload). */
export interface RawBody {
  data: Uint8Array;
  contentType: string;
  filename: string;
}

export interface RestOptions {
  /** JSON body, or a file. */
  body?: unknown;
  raw?: RawBody;
  /** A create is not repeated after the server may have done it (timeouts, resets, 5xx other than 503). */
  idempotent?: boolean;
}

export interface WordpressClient {
  /** A REST call below /wp-json (`/wp/v2/posts`); returns the parsed JSON, throws SiteloomError on failure. */
  rest<T = unknown>(method: "GET" | "POST" | "DELETE", path: string, options?: RestOptions): Promise<T>;
  /** An XML-RPC call; `wp.*` methods get blog id, user and password put in front of `params`. */
  xmlrpc(method: string, params: XmlRpcValue[]): Promise<XmlRpcValue>;
  /** Requests sent (each try counts), writes among them, retries. */
  readonly stats: { requests: number; writes: number; retries: number };
  close(): Promise<void>;
}

const DEFAULTS = { concurrency: 2, timeoutMs: 30_000, retries: 4, retryBaseMs: 500, retryMaxMs: 30_000 };

/** Message of every authentication failure: the one thing the user can fix. */
export const AUTH_HINT = "check wordpress.user / wordpress.appPassword";

/**
 * The WordPress HTTP client: application-password Basic auth, a concurrency limit, a timeout per request, retries
 * through src/retry.ts on the statuses of `isRetryableStatus` and connection errors (honouring Retry-After). The
 * first 401/403 stops every queued and later request at once: a wrong password costs one request, not one per
 * article.
 */
export function createWordpressClient(options: WordpressClientOptions): WordpressClient {
  const opts = { ...DEFAULTS, ...options };
  const base = opts.url.replace(/\/+$/, "");
  const agent = new Agent({
    connections: opts.concurrency,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    connect: { timeout: opts.timeoutMs, ...(opts.ca ? { ca: opts.ca } : {}) },
  });
  const limit = pLimit(opts.concurrency);
  const stats = { requests: 0, writes: 0, retries: 0 };
  let fatal: SiteloomError | undefined;
  const authorization = () => `Basic ${Buffer.from(`${opts.user}:${opts.appPassword.reveal()}`).toString("base64")}`;

  const send = async (
    method: string,
    url: string,
    body: Uint8Array | string | null,
    headers: Record<string, string>,
    idempotent: boolean,
  ): Promise<{ status: number; text: string }> =>
    limit(() => {
      let tries = 0;
      return runWithRetry(
        async () => {
          if (fatal) throw fatal;
          tries++;
          opts.signal?.throwIfAborted();
          stats.requests++;
          if (method !== "GET") stats.writes++;
          let res: Awaited<ReturnType<typeof request>>;
          try {
            res = await request(url, {
              method: method as "GET",
              dispatcher: agent,
              headers: { authorization: authorization(), "user-agent": "siteloom", ...headers },
              body,
              ...(opts.signal ? { signal: opts.signal } : {}),
            });
          } catch (error) {
            if (opts.signal?.aborted) throw _interrupted();
            const code = (error as { code?: string }).code ?? "";
            // refused means nothing was sent: safe to repeat even a create
            throw _failure(
              `cannot reach ${base}: ${code || (error as Error).message}`,
              idempotent || code === "ECONNREFUSED",
              tries,
              {},
            );
          }
          const text = await res.body.text();
          if (res.statusCode === 401 || res.statusCode === 403) {
            fatal = new SiteloomError(
              "ERR_PUBLISH_AUTH",
              `WordPress at ${base} refused the request (HTTP ${res.statusCode}${_restCode(text)}): ${AUTH_HINT}`,
            );
            throw fatal;
          }
          if (isRetryableStatus(res.statusCode)) {
            const retryAfter = res.headers["retry-after"];
            const afterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
            throw _failure(
              `WordPress answered HTTP ${res.statusCode}${_restCode(text)}`,
              idempotent || _NOT_PROCESSED.has(res.statusCode),
              tries,
              {
                status: res.statusCode,
                // Retry-After says how long at least: waited out (up to retryMaxMs) instead of the backoff
                afterMs: afterMs === undefined ? undefined : Math.min(afterMs, opts.retryMaxMs),
              },
            );
          }
          return { status: res.statusCode, text };
        },
        {
          retries: opts.retries,
          baseMs: opts.retryBaseMs,
          maxMs: opts.retryMaxMs,
          signal: opts.signal,
          onRetry: ({ attempt, delayMs, reason }) => {
            stats.retries++;
            publishActivity({ kind: "retry", what: "wordpress" });
            opts.onRetry?.({ attempt, delayMs, reason });
          },
        },
      ).catch((error: unknown) => {
        if (error instanceof SiteloomError) throw error;
        if (opts.signal?.aborted) throw _interrupted();
        if (error instanceof RetryableError) throw _gaveUp(error.message, error.status, tries, error);
        throw error;
      });
    });

  return {
    stats,
    async rest<T>(method: "GET" | "POST" | "DELETE", path: string, ro: RestOptions = {}): Promise<T> {
      const headers: Record<string, string> = { accept: "application/json" };
      let body: Uint8Array | string | null = null;
      if (ro.raw) {
        body = ro.raw.data;
        headers["content-type"] = ro.raw.contentType;
        headers["content-disposition"] = `attachment; filename="${ro.raw.filename.replace(/["\\\r\n]/g, "_")}"`;
      } else if (ro.body !== undefined) {
        body = JSON.stringify(ro.body);
        headers["content-type"] = "application/json";
      }
      const { status, text } = await send(
        method,
        `${base}/wp-json${path}`,
        body,
        headers,
        ro.idempotent ?? method !== "POST",
      );
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        throw new SiteloomError(
          "ERR_PUBLISH_FAILED",
          `${method} ${path}: WordPress answered HTTP ${status} with something that is not JSON (is ${base} a WordPress site with pretty permalinks?)`,
        );
      }
      if (status >= 400) {
        const e = json as { code?: string; message?: string } | undefined;
        throw new SiteloomError(
          "ERR_PUBLISH_FAILED",
          `${method} ${path}: HTTP ${status}${e?.code ? ` ${e.code}` : ""}${e?.message ? `: ${_oneLine(e.message)}` : ""}`,
          { cause: json },
        );
      }
      return json as T;
    },
    async xmlrpc(method, params) {
      const full = method.startsWith("wp.") ? [1, opts.user, opts.appPassword.reveal(), ...params] : params;
      const { status, text } = await send(
        "POST",
        `${base}/xmlrpc.php`,
        encodeCall(method, full),
        { "content-type": "text/xml" },
        method.startsWith("wp.get"),
      );
      if (status !== 200) {
        throw new SiteloomError(
          "ERR_PUBLISH_FAILED",
          `${method}: ${base}/xmlrpc.php answered HTTP ${status}; the post marker needs XML-RPC (see docs/publish.md)`,
        );
      }
      let decoded: ReturnType<typeof decodeResponse>;
      try {
        decoded = decodeResponse(text);
      } catch (error) {
        throw new SiteloomError(
          "ERR_PUBLISH_FAILED",
          `${method}: ${base}/xmlrpc.php did not answer XML-RPC (${(error as Error).message}); is XML-RPC blocked?`,
        );
      }
      if ("fault" in decoded) {
        if (decoded.fault.faultCode === 403) {
          fatal = new SiteloomError(
            "ERR_PUBLISH_AUTH",
            `WordPress at ${base} refused the credentials (XML-RPC fault 403): ${AUTH_HINT}`,
          );
          throw fatal;
        }
        throw new SiteloomError(
          "ERR_PUBLISH_FAILED",
          `${method}: XML-RPC fault ${decoded.fault.faultCode}: ${_oneLine(decoded.fault.faultString)}`,
        );
      }
      return decoded.value;
    },
    async close() {
      await agent.close().catch(() => undefined);
    },
  };
}

// --- internal ---

/** Statuses that say the server did not act on the request: even a create may be sent again. */
const _NOT_PROCESSED = new Set([408, 425, 429, 503]);

/**
 * A failed try: a `RetryableError` (retried by src/retry.ts) when sending it again cannot make a second post
 * (idempotent, or the server did not act), else the final error at once.
 */
function _failure(
  message: string,
  repeatable: boolean,
  tries: number,
  opts: { status?: number | undefined; afterMs?: number | undefined },
): Error {
  return repeatable ? new RetryableError(message, opts) : _gaveUp(message, opts.status, tries);
}

function _gaveUp(message: string, status: number | undefined, tries: number, cause?: unknown): SiteloomError {
  return new SiteloomError(
    status === undefined ? "ERR_PUBLISH_CONNECT" : "ERR_PUBLISH_FAILED",
    tries > 1 ? `${message} (gave up after ${tries} tries)` : message,
    { cause },
  );
}

function _interrupted(): SiteloomError {
  return new SiteloomError("ERR_INTERRUPTED", "publish interrupted");
}

function _restCode(text: string): string {
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === "string" ? ` ${code.slice(0, 60)}` : "";
  } catch {
    return "";
  }
}

/** Server text in our messages: one line, bounded, no markup. */
function _oneLine(text: string): string {
  return text
    .replace(/<[^>]*>/g, "")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 200);
}
