/**
 * The one retry policy, on top of p-retry: a caller says which failures are worth another try (and after how long,
 * when the other side sent Retry-After); everything else stops at once. Backoff is exponential with equal jitter,
 * capped at `maxMs`; a wait is cut short by `signal`.
 *
 * @example
 * const body = await runWithRetry(() => fetchJson(url), {
 *   retries: 4,
 *   classify: (error) => error instanceof HttpError && isRetryableStatus(error.status)
 *     ? { retry: true, afterMs: parseRetryAfter(error.headers.get("retry-after")) }
 *     : { retry: false },
 * });
 */
import pRetry, { AbortError } from "p-retry";

/** What to do with one failure. */
export interface RetryDecision {
  /** Whether another attempt may follow. */
  retry: boolean;
  /** Wait this long before it instead of the backoff (the server's Retry-After). */
  afterMs?: number | undefined;
}

export interface RetryOptions {
  /** Attempts after the first one. @default 4 */
  retries?: number | undefined;
  /** Wait before the first retry, doubled for each one after; 0 retries at once. @default 1000 */
  baseMs?: number | undefined;
  /** Longest backoff wait (a Retry-After is honoured as the classifier passes it). @default 30000 */
  maxMs?: number | undefined;
  /** Stops waiting and attempting; the run rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Decides per failure. @default `RetryableError` is retried (after its `afterMs`), anything else is not
   */
  classify?: ((error: unknown) => RetryDecision) | undefined;
  /** Called before each wait (progress output, counters). */
  onRetry?: ((info: RetryInfo) => void) | undefined;
  /** Source of jitter; tests pass a fixed one. @default Math.random */
  random?: (() => number) | undefined;
}

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** The failure's message. */
  reason: string;
  error: unknown;
}

/** A failure worth another attempt, after `afterMs` when the other side said so (Retry-After). */
export class RetryableError extends Error {
  override name = "RetryableError";
  readonly afterMs: number | undefined;
  /** The HTTP status behind it, if any. */
  readonly status: number | undefined;

  constructor(
    message: string,
    opts: { afterMs?: number | undefined; status?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.afterMs = opts.afterMs;
    this.status = opts.status;
  }
}

/**
 * Runs `fn` (given the attempt number, from 1) until it resolves, a failure is classified as final, or the retries
 * are spent; the last failure is rethrown as it was thrown.
 */
export async function runWithRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const o = {
    retries: options.retries ?? DEFAULTS.retries,
    baseMs: options.baseMs ?? DEFAULTS.baseMs,
    maxMs: options.maxMs ?? DEFAULTS.maxMs,
    signal: options.signal,
  };
  const classify = options.classify ?? _defaultClassify;
  const random = options.random ?? Math.random;
  // The first attempt runs on its own: most succeed, and p-retry's machinery per call (its loop, a promise chain per
  // attempt) is a visible share of a deploy's CPU at two retried operations per file. A failure is handed to p-retry
  // as its first attempt's, so what follows is as before.
  let first: { error: unknown } | undefined;
  if (!o.signal?.aborted) {
    let result: T;
    try {
      result = await fn(1);
    } catch (error) {
      first = { error };
    }
    // as p-retry does after every attempt: aborted meanwhile is aborted, even when the attempt succeeded
    if (first === undefined) {
      o.signal?.throwIfAborted();
      return result!;
    }
  }
  const decisions = new WeakMap<object, RetryDecision>();
  return pRetry<T>(
    async (attempt) => {
      try {
        if (attempt === 1 && first !== undefined) throw first.error;
        return await fn(attempt);
      } catch (error) {
        if (o.signal?.aborted) throw new AbortError(_asError(o.signal.reason ?? error));
        const decision = classify(error);
        if (!decision.retry) throw new AbortError(_asError(error));
        // p-retry hands a TypeError that is not a network error straight back: keep the original, wrapped once
        const carrier = error instanceof Error && !(error instanceof TypeError) ? error : new _Carrier(error);
        decisions.set(carrier, decision);
        throw carrier;
      }
    },
    {
      retries: o.retries,
      // the wait is ours (Retry-After or backoff, in onFailedAttempt): p-retry only loops
      minTimeout: 0,
      maxTimeout: 0,
      ...(o.signal ? { signal: o.signal } : {}),
      async onFailedAttempt({ error, attemptNumber, retriesLeft }) {
        if (retriesLeft === 0) return;
        const decision = decisions.get(error);
        const cap = Math.min(o.maxMs, o.baseMs * 2 ** (attemptNumber - 1));
        const delayMs = Math.round(decision?.afterMs ?? cap / 2 + (random() * cap) / 2);
        const cause = error instanceof _Carrier ? error.original : error;
        options.onRetry?.({ attempt: attemptNumber, delayMs, reason: _message(cause), error: cause });
        // no wait at all for a retry at once (`baseMs: 0`, the pool's fresh connection): not even a timer tick
        if (delayMs > 0) await sleep(delayMs, o.signal);
      },
    },
  ).catch((error: unknown): never => {
    throw error instanceof _Carrier ? error.original : error;
  });
}

/** HTTP statuses worth another try: timeouts, conflicts of the moment, throttling and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

/**
 * A Retry-After header (`retry-after-ms` first when given) in ms: delta-seconds or an HTTP date; undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  valueMs?: string | null,
  now = Date.now(),
): number | undefined {
  if (valueMs && /^\d+(\.\d+)?$/.test(valueMs.trim())) return Number(valueMs);
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// --- internal ---

const DEFAULTS = { retries: 4, baseMs: 1000, maxMs: 30_000 };

/** Carries a non-Error (or a TypeError, which p-retry would not retry) through p-retry. */
class _Carrier extends Error {
  readonly original: unknown;
  constructor(original: unknown) {
    super(_message(original));
    this.original = original;
  }
}

function _defaultClassify(error: unknown): RetryDecision {
  return error instanceof RetryableError ? { retry: true, afterMs: error.afterMs } : { retry: false };
}

function _asError(value: unknown): Error {
  return value instanceof Error ? value : new _Carrier(value);
}

function _message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
