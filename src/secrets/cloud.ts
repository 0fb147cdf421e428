import { mapLimit } from "../concurrency.ts";
import { SiteloomError } from "../errors.ts";
import { parseRetryAfter, RetryableError, runWithRetry } from "../retry.ts";
import { MASK } from "../secret.ts";
import { READS_IN_FLIGHT } from "./resolved-cache.ts";
import type { StoredValue } from "./types.ts";

/**
 * Loads an optional SDK on first use. A missing package is one line saying what to install, with the version this
 * siteloom is tested with (STYLE.md §4: heavy SDKs are optional and lazy).
 */
export async function importOptional<T>(pkg: string, version: string, backend: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new SiteloomError(
        "ERR_SECRET_BACKEND",
        `the ${backend} secret store needs ${pkg}: install it with npm install ${pkg}@${version}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** What an operation touched, for the one-line error messages of cloud backends. */
export interface CloudAction {
  /** Backend type ("aws"). */
  backend: string;
  /** The service's own action name (`secretsmanager:GetSecretValue`, `secrets.get`). */
  action: string;
  /** The service's resource name (secret name, URL path). */
  resource: string;
}

/** A permission refusal that names the action and the resource, and what to change. */
export function deniedError(at: CloudAction, fix: string, cause?: unknown): SiteloomError {
  return new SiteloomError(
    "ERR_SECRET_DENIED",
    `${at.backend}: permission denied for ${at.action} on ${at.resource}; ${fix}`,
    { cause: safeCause(cause) },
  );
}

/** Refused or missing credentials. */
export function credentialsError(backend: string, detail: string, fix: string, cause?: unknown): SiteloomError {
  return new SiteloomError("ERR_SECRET_LOCKED", `${backend}: ${detail}; ${fix}`, { cause: safeCause(cause) });
}

/** Any other service failure, on one line; `values` are removed from the service's text first. */
export function serviceError(at: CloudAction, detail: string, values: string[] = [], cause?: unknown): SiteloomError {
  return new SiteloomError(
    "ERR_SECRET_BACKEND",
    `${at.backend}: ${at.action} on ${at.resource} failed: ${scrub(detail, values)}`,
    { cause: safeCause(cause, values) },
  );
}

/**
 * An SDK error reduced to its name, code and scrubbed message. SDK errors carry the request (headers with tokens,
 * bodies with values), so they are never kept as a `cause` that --debug would print.
 */
export function safeCause(error: unknown, values: string[] = []): Error | undefined {
  if (error === undefined) return undefined;
  const e = error as { name?: unknown; message?: unknown; code?: unknown; status?: unknown };
  const safe = new Error(scrub(String(e.message ?? error), values)) as Error & { code?: unknown; status?: unknown };
  safe.name = typeof e.name === "string" ? e.name : "Error";
  if (typeof e.code === "string" || typeof e.code === "number") safe.code = e.code;
  if (typeof e.status === "string" || typeof e.status === "number") safe.status = e.status;
  return safe;
}

/** Removes secret values (and their JSON/URL forms) from a text that came back from a service. */
export function scrub(text: string, values: string[]): string {
  let out = text.replace(/\s+/g, " ").trim();
  for (const value of values) {
    if (!value) continue;
    for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) {
      out = out.split(form).join(MASK);
    }
  }
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

/**
 * Joins name parts for services that allow only letters, digits and `-` (Key Vault; Secret Manager also takes
 * `_`), reversibly: `-` becomes `-d`, `_` becomes `-u`, any other character `-x` and its UTF-8 bytes in hex,
 * and parts are joined by `--`, which an encoded part never holds.
 */
export function encodeName(parts: string[]): string {
  return parts.map(_encodePart).join("--");
}

/** The parts of an `encodeName` result; undefined when the text is not one. */
export function decodeName(text: string): string[] | undefined {
  const parts: string[] = [];
  for (const part of text.split("--")) {
    const bytes: number[] = [];
    for (let i = 0; i < part.length; i++) {
      const c = part[i]!;
      if (c !== "-") {
        bytes.push(...Buffer.from(c));
        continue;
      }
      const kind = part[i + 1];
      if (kind === "d" || kind === "u") {
        bytes.push(kind === "d" ? 0x2d : 0x5f);
        i += 1;
      } else if (kind === "x" && /^[0-9a-f]{2}$/.test(part.slice(i + 2, i + 4))) {
        bytes.push(Number.parseInt(part.slice(i + 2, i + 4), 16));
        i += 3;
      } else return undefined;
    }
    parts.push(Buffer.from(bytes).toString("utf8"));
  }
  return parts;
}

function _encodePart(part: string): string {
  let out = "";
  for (const byte of Buffer.from(part)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9]/.test(c)) out += c;
    else if (c === "-") out += "-d";
    else if (c === "_") out += "-u";
    else out += `-x${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** Reads keys one by one with at most `parallel` requests in flight (services without a batch read). */
export async function readEach(
  keys: string[],
  get: (key: string) => Promise<StoredValue | undefined>,
  parallel = READS_IN_FLIGHT,
): Promise<Map<string, StoredValue>> {
  const found = new Map<string, StoredValue>();
  const values = await mapLimit(keys, parallel, (key) => get(key)); // not `get` itself: the index is no version
  for (const [i, key] of keys.entries()) {
    const value = values[i];
    if (value) found.set(key, value);
  }
  return found;
}

/** One JSON call of a service spoken to over plain HTTP (Vault, DigitalOcean): what `requestJson` needs. */
export interface JsonRequest {
  /** What the call does, for messages. */
  at: CloudAction;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  /** Values in the request, removed from any message. */
  values?: string[] | undefined;
  /** HTTP client. */
  fetch: typeof fetch;
  /** Statuses worth another attempt (throttling, a standby, a proxy in between). */
  retryable: (status: number) => boolean;
  /** The error for a connection that failed (network, DNS, TLS). */
  unreachable: (error: Error) => SiteloomError;
  /** Throws the error for an answer that is final and not a success; returns for the caller to read it. */
  check: (answer: JsonAnswer) => void;
}

/** An answer of `requestJson`. */
export interface JsonAnswer {
  status: number;
  /** The parsed body; undefined when empty or not JSON. */
  json: unknown;
  /** The service's error text (`errors`, `message`), scrubbed of the request's values. */
  message: string;
}

/** Longest wait between attempts of `requestJson`, a Retry-After included. */
export const RETRY_MAX_MS = 5000;

/**
 * Sends one JSON request with retries on the `retryable` statuses (Retry-After honoured up to `RETRY_MAX_MS`,
 * else back-off) and gives the answer to `check`; retries spent are one line naming the action and resource.
 */
export async function requestJson(request: JsonRequest): Promise<JsonAnswer> {
  const { at, values = [] } = request;
  return runWithRetry(
    async () => {
      let response: Response;
      try {
        response = await request.fetch(request.url, {
          method: request.method,
          headers: {
            ...request.headers,
            ...(request.body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        });
      } catch (error) {
        throw request.unreachable(error as Error);
      }
      const text = await response.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const body = json as { errors?: unknown; message?: unknown } | undefined;
      const said = Array.isArray(body?.errors) ? body.errors.join("; ") : (body?.message ?? (json ? "" : text));
      const answer = { status: response.status, json, message: scrub(String(said), values) };
      if (request.retryable(response.status)) {
        const afterMs = parseRetryAfter(response.headers.get("retry-after"));
        throw new RetryableError(`${response.status} ${answer.message}`.trim(), {
          afterMs: afterMs === undefined ? undefined : Math.min(afterMs, RETRY_MAX_MS),
          status: response.status,
        });
      }
      request.check(answer);
      return answer;
    },
    { baseMs: 100, maxMs: RETRY_MAX_MS },
  ).catch((error: unknown) => {
    if (error instanceof RetryableError) {
      throw serviceError(at, `still refused after several attempts with back-off (${error.message}); try again later`);
    }
    throw error;
  });
}
