import { SiteloomError } from "../errors.ts";

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
    { cause },
  );
}

/** Refused or missing credentials. */
export function credentialsError(backend: string, detail: string, fix: string, cause?: unknown): SiteloomError {
  return new SiteloomError("ERR_SECRET_LOCKED", `${backend}: ${detail}; ${fix}`, { cause });
}

/** Any other service failure, on one line; `values` are removed from the service's text first. */
export function serviceError(at: CloudAction, detail: string, values: string[] = [], cause?: unknown): SiteloomError {
  return new SiteloomError(
    "ERR_SECRET_BACKEND",
    `${at.backend}: ${at.action} on ${at.resource} failed: ${scrub(detail, values)}`,
    { cause },
  );
}

/** Removes secret values (and their JSON/URL forms) from a text that came back from a service. */
export function scrub(text: string, values: string[]): string {
  let out = text.replace(/\s+/g, " ").trim();
  for (const value of values) {
    if (!value) continue;
    for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) {
      out = out.split(form).join("****");
    }
  }
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

export interface RetryOptions {
  /** Attempts in all. @default 5 */
  attempts?: number;
  /** First back-off in ms, doubled each time, with full jitter. @default 100 */
  baseMs?: number;
  /** Longest single wait in ms (a Retry-After above it is capped). @default 5000 */
  maxMs?: number;
}

/** Thrown by an operation to ask `withRetry` for another attempt after `afterMs` (a Retry-After), if any. */
export class RetryableError extends Error {
  readonly afterMs: number | undefined;
  constructor(message: string, afterMs?: number) {
    super(message);
    this.afterMs = afterMs;
  }
}

/** Runs `fn`, retrying RetryableError (throttling, 5xx) with exponential back-off; the last one is rethrown. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 5, baseMs = 100, maxMs = 5000 } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof RetryableError) || attempt >= attempts) throw error;
      const backoff = Math.random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.min(maxMs, error.afterMs ?? backoff)));
    }
  }
}
