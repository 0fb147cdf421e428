import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { EXIT_CODES, exitCodeFor, SiteloomError } from "../../src/errors.ts";
import { acquireLock, createSqliteStore, isStaleHolder, type StateStore } from "../../src/store/index.ts";
import { useTempDir } from "../support/cli.ts";

async function withStore(fn: (store: StateStore) => Promise<void>): Promise<void> {
  const store = createSqliteStore({ path: join(await useTempDir(), "state.db") });
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

const lock = (store: StateStore, owner: string, extra = {}) =>
  acquireLock({ store, name: "site:alpha", owner, subject: "site alpha", ...extra });

describe("store: acquireLock", () => {
  it("refuses a held lock with ERR_LOCKED (exit code 7) naming the holder, and frees it on release", async () => {
    await withStore(async (store) => {
      const first = await lock(store, "run-1");
      const error = await lock(store, "run-2").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SiteloomError);
      expect((error as SiteloomError).code).toBe("ERR_LOCKED");
      expect(exitCodeFor("ERR_LOCKED")).toBe(EXIT_CODES.locked);
      expect(EXIT_CODES.locked).toBe(7);
      expect((error as Error).message).toMatch(
        new RegExp(`^site alpha is being run by run run-1 \\(pid ${process.pid} on .+, since .+\\); wait for it`),
      );
      await first.release();
      await first.release();
      const second = await lock(store, "run-2");
      expect((await store.getLock("site:alpha"))?.owner).toBe("run-2");
      await second.release();
      expect(await store.listLocks()).toEqual([]);
    });
  });

  it("takes over the lock of a dead process on this host, and reports the previous holder", async () => {
    await withStore(async (store) => {
      await store.acquireLock(
        { name: "site:alpha", owner: "dead", pid: 999_999_999, host: hostname(), leaseMs: 60_000 },
        () => false,
      );
      const takeovers: string[] = [];
      const held = await lock(store, "run-2", { onTakeover: (_: unknown, message: string) => takeovers.push(message) });
      expect(held.previous?.owner).toBe("dead");
      expect(takeovers).toEqual([
        expect.stringMatching(
          /^site alpha: run dead \(pid 999999999 on .+\) is no longer running; took over its lock$/,
        ),
      ]);
      await held.release();
    });
  });

  it("on another host, the lease decides: a live lease is respected, an expired one is taken over", async () => {
    await withStore(async (store) => {
      await store.acquireLock(
        { name: "site:alpha", owner: "remote", pid: 1, host: "other-host", leaseMs: 60_000 },
        () => false,
      );
      await expect(lock(store, "run-2")).rejects.toMatchObject({ code: "ERR_LOCKED" });
      await store.releaseLock("site:alpha", "remote");
      await store.acquireLock(
        { name: "site:alpha", owner: "remote", pid: 1, host: "other-host", leaseMs: 1 },
        () => false,
      );
      await sleep(5);
      const held = await lock(store, "run-2");
      expect(held.previous?.owner).toBe("remote");
      await held.release();
    });
  });

  it("a live holder on this host keeps its lock past its lease; only a long-dead lease means a reused pid", () => {
    const now = Date.parse("2026-01-01T00:10:00Z");
    const holder = {
      name: "n",
      owner: "o",
      pid: process.pid,
      host: "me",
      acquired: "",
      heartbeat: "2026-01-01T00:09:00Z",
    };
    expect(isStaleHolder({ ...holder, expires: "2026-01-01T00:09:30Z" }, { host: "me", now })).toBe(false);
    expect(
      isStaleHolder(
        { ...holder, heartbeat: "2026-01-01T00:00:00Z", expires: "2026-01-01T00:00:01Z" },
        { host: "me", now },
      ),
    ).toBe(true);
    expect(isStaleHolder({ ...holder, expires: "2026-01-01T00:09:30Z" }, { host: "elsewhere", now })).toBe(true);
    expect(isStaleHolder({ ...holder, expires: "2026-01-01T00:10:30Z" }, { host: "elsewhere", now })).toBe(false);
    // a record written before leases: the default lease from its last heartbeat
    expect(isStaleHolder({ ...holder, expires: null }, { host: "elsewhere", now })).toBe(false);
  });

  it("the holder renews its lease while it works", async () => {
    await withStore(async (store) => {
      const held = await lock(store, "run-1", { leaseMs: 60_000, heartbeatMs: 10 });
      const first = (await store.getLock("site:alpha"))?.expires;
      let renewed = first;
      for (let i = 0; i < 500 && renewed === first; i++) {
        await sleep(10);
        renewed = (await store.getLock("site:alpha"))?.expires;
      }
      expect(Date.parse(renewed ?? "")).toBeGreaterThan(Date.parse(first ?? ""));
      await held.release();
    });
  });

  it("waits for a held lock when asked to, announcing it once, and gets it when released", async () => {
    await withStore(async (store) => {
      const first = await lock(store, "run-1");
      const waits: string[] = [];
      const second = lock(store, "run-2", {
        waitMs: 60_000,
        pollMs: 10,
        onWait: (_: unknown, m: string) => waits.push(m),
      });
      while (waits.length === 0) await sleep(10);
      await first.release();
      const held = await second;
      expect(waits).toEqual([
        expect.stringMatching(/^site alpha is being run by run run-1 .*; waiting for it to finish$/),
      ]);
      expect(held.owner).toBe("run-2");
      await held.release();
    });
  });

  it("an aborted wait is ERR_INTERRUPTED", async () => {
    await withStore(async (store) => {
      const first = await lock(store, "run-1");
      const controller = new AbortController();
      const waiting = lock(store, "run-2", { waitMs: 60_000, pollMs: 10, signal: controller.signal });
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ code: "ERR_INTERRUPTED" });
      await first.release();
    });
  });
});
