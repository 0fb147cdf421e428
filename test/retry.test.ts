import { describe, expect, it } from "vitest";
import { isRetryableStatus, parseRetryAfter, RetryableError, type RetryInfo, runWithRetry } from "../src/retry.ts";

describe("retry: runWithRetry", () => {
  it("tries again after a RetryableError and returns the first success", async () => {
    const seen: number[] = [];
    const result = await runWithRetry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new RetryableError(`busy ${attempt}`);
        return "done";
      },
      { baseMs: 1 },
    );
    expect(result).toBe("done");
    expect(seen).toEqual([1, 2, 3]);
  });

  it("stops at once on a failure the classifier calls final, rethrowing it unchanged", async () => {
    const final = new Error("HTTP 404");
    let calls = 0;
    const run = runWithRetry(
      async () => {
        calls++;
        throw final;
      },
      { baseMs: 1 },
    );
    await expect(run).rejects.toBe(final);
    expect(calls).toBe(1);
  });

  it("retries at once with baseMs 0: no timer runs between the attempts", async () => {
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
    }, 0);
    const seen: number[] = [];
    await runWithRetry(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new RetryableError("gone");
      },
      { retries: 2, baseMs: 0 },
    );
    expect(seen).toEqual([1, 2, 3]);
    expect(timerRan).toBe(false);
  });

  it("rethrows the last failure once the retries are spent", async () => {
    let calls = 0;
    const run = runWithRetry(
      async () => {
        calls++;
        throw new RetryableError(`try ${calls}`);
      },
      { retries: 2, baseMs: 1 },
    );
    await expect(run).rejects.toThrow("try 3");
    expect(calls).toBe(3);
  });

  it("waits the Retry-After the classifier passes instead of the backoff, and reports each wait", async () => {
    const retries: RetryInfo[] = [];
    await runWithRetry(
      async (attempt) => {
        if (attempt === 1) throw Object.assign(new Error("HTTP 429"), { status: 429 });
        if (attempt === 2) throw Object.assign(new Error("HTTP 503"), { status: 503 });
        return true;
      },
      {
        baseMs: 8,
        random: () => 1,
        classify: (error) => ({ retry: true, afterMs: (error as { status: number }).status === 429 ? 20 : undefined }),
        onRetry: (info) => retries.push(info),
      },
    );
    expect(retries.map((r) => [r.attempt, r.delayMs, r.reason])).toEqual([
      [1, 20, "HTTP 429"],
      [2, 16, "HTTP 503"], // backoff: base 8 doubled once, equal jitter at its top
    ]);
  });

  it("retries non-Error throws and TypeErrors too when classified so, and gives back the original", async () => {
    const thrown: unknown[] = ["plain string", new TypeError("terminated")];
    let calls = 0;
    const run = runWithRetry(
      async () => {
        throw thrown[Math.min(calls++, 1)];
      },
      { retries: 1, baseMs: 1, classify: () => ({ retry: true }) },
    );
    await expect(run).rejects.toBe(thrown[1]);
    expect(calls).toBe(2);
  });

  it("gives up waiting when the signal aborts, with the signal's reason", async () => {
    const controller = new AbortController();
    const run = runWithRetry(
      async () => {
        throw new RetryableError("busy", { afterMs: 60_000 });
      },
      { signal: controller.signal, onRetry: () => controller.abort(new Error("stopped by the user")) },
    );
    await expect(run).rejects.toThrow("stopped by the user");
  });

  it("an abort during an attempt that then succeeds rejects, on the first attempt as on later ones", async () => {
    for (const failFirst of [false, true]) {
      const controller = new AbortController();
      let calls = 0;
      const run = runWithRetry(
        async () => {
          calls++;
          if (failFirst && calls === 1) throw new RetryableError("busy");
          controller.abort(new Error("cancelled"));
          return "done";
        },
        { signal: controller.signal, baseMs: 0 },
      );
      await expect(run).rejects.toThrow("cancelled");
      expect(calls).toBe(failFirst ? 2 : 1);
    }
  });
});

describe("retry: helpers", () => {
  it("reads Retry-After as seconds, an HTTP date or retry-after-ms", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", undefined, now)).toBe(3000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", undefined, now)).toBe(5000);
    expect(parseRetryAfter("7", "250", now)).toBe(250);
    expect(parseRetryAfter("soon", undefined, now)).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it("calls throttling, timeouts and server errors retryable, other client errors final", () => {
    expect([408, 429, 500, 503].map(isRetryableStatus)).toEqual([true, true, true, true]);
    expect([400, 401, 403, 404, 422].map(isRetryableStatus)).toEqual([false, false, false, false, false]);
  });
});
