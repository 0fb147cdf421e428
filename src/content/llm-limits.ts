import { setTimeout as sleep } from "node:timers/promises";
import pLimit from "p-limit";
import type { LlmConfig } from "../config/index.ts";
import type { CallLimiter, CallLimits, StateStore } from "../store/index.ts";

/** The window of `llm.requestsPerMinute`. */
const WINDOW_MS = 60_000;

/**
 * The provider limits of the workspace: at most `llm.concurrency` model requests in flight and at most
 * `llm.requestsPerMinute` started in any minute, for every site at once. With a store shared by several processes
 * (PostgreSQL) the limits hold across all of them (`store.callLimiter`); otherwise they hold in this process.
 * Every HTTP request counts, retries included: it is what the provider counts.
 */
export function llmCallLimiter(store: StateStore | undefined, llm: LlmConfig): CallLimiter {
  const name = `llm:${llm.provider}`;
  const limits: CallLimits = { concurrency: llm.concurrency, perMinute: llm.requestsPerMinute };
  if (store?.callLimiter) return store.callLimiter(name, limits);
  const key = JSON.stringify([name, limits.concurrency, limits.perMinute ?? null]);
  let limiter = IN_PROCESS.get(key);
  if (!limiter) {
    limiter = _inProcess(limits);
    IN_PROCESS.set(key, limiter);
  }
  return limiter;
}

// --- internal ---

/** One limiter per name and limits for the whole process: the sites of one run share it. */
const IN_PROCESS = new Map<string, CallLimiter>();

function _inProcess(limits: CallLimits): CallLimiter {
  const limit = pLimit(limits.concurrency);
  const starts: number[] = [];
  // starts are taken one at a time, so two callers never both see the last free place of the window
  let turn: Promise<void> = Promise.resolve();
  const takeStart = (signal: AbortSignal | undefined): Promise<void> => {
    const take = async () => {
      for (;;) {
        signal?.throwIfAborted();
        const now = Date.now();
        while (starts.length > 0 && starts[0]! <= now - WINDOW_MS) starts.shift();
        if (limits.perMinute === undefined || starts.length < limits.perMinute) {
          starts.push(now);
          return;
        }
        await sleep(starts[0]! + WINDOW_MS - now, undefined, { signal });
      }
    };
    const mine = turn.then(take);
    turn = mine.catch(() => undefined);
    return mine;
  };
  return {
    run: (fn, signal) =>
      limit(async () => {
        await takeStart(signal);
        return fn();
      }),
    async close() {},
  };
}
