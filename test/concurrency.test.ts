import { describe, expect, it } from "vitest";
import { forEachLimit, mapLimit } from "../src/concurrency.ts";

describe("concurrency: mapLimit and forEachLimit", () => {
  it("keeps at most `limit` calls in flight and returns results in list order", async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return n * 10 + i;
    });
    expect(out).toEqual([50, 11, 42, 23, 34, 5]);
    expect(most).toBe(2);
  });

  it("waits for every started call before rejecting with the first failure in list order", async () => {
    const finished: number[] = [];
    const run = forEachLimit([0, 1, 2, 3], 4, async (n) => {
      await new Promise((resolve) => setImmediate(resolve));
      finished.push(n);
      if (n === 1 || n === 3) throw new Error(`item ${n}`);
    });
    await expect(run).rejects.toThrow("item 1");
    expect(finished.sort()).toEqual([0, 1, 2, 3]);
  });

  it("treats a limit below 1 as 1", async () => {
    expect(await mapLimit([1, 2], 0, async (n) => n)).toEqual([1, 2]);
  });
});
