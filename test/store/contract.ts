/**
 * The state store contract: one suite every StateStore implementation passes (SQLite and PostgreSQL, see
 * contract.test.ts), the way every secret backend passes one suite. `ctx.open()` gives a fresh, empty store;
 * `ctx.openAnother(store)` a second, independent connection to the same data (another process's view);
 * `ctx.url(store)` what a child process passes to openStateStore.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createStoreAuditTrail } from "../../src/audit/index.ts";
import {
  acquireLock,
  type BudgetReservation,
  type CostEntry,
  type NewRun,
  type StateStore,
} from "../../src/store/index.ts";

export interface StoreContractContext {
  /** A fresh, empty, migrated store. */
  open(): Promise<StateStore>;
  /** Another connection (pool) to the data of `store`, as a second process would open it. */
  openAnother(store: StateStore): StateStore;
  /** The SITELOOM_STORE value that reaches the data of `store` from a child process. */
  url(store: StateStore): string;
  /** How many runs the id-collision test creates in a burst. @default 2000 */
  manyRuns?: number;
}

export function testStateStore(kind: string, ctx: StoreContractContext): void {
  const many = ctx.manyRuns ?? 2000;
  describe(`store contract (${kind})`, () => {
    describe("store: runs and steps", () => {
      it("creates, updates, lists and finds runs, newest first", async () => {
        await withStore(ctx, async (store) => {
          const a = await store.createRun(
            newRun({ id: "20260101-100000-1a2b", started: "2026-01-01T10:00:00.000Z", sites: ["alpha"] }),
          );
          const b = await store.createRun(newRun({ started: "2026-01-02T10:00:00.000Z", sites: ["beta"] }));
          expect(b.id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/);
          expect(a.status).toBe("running");

          await store.saveStep(a.id, "alpha", "export", { position: 0, status: "running", started: a.started });
          await store.saveStep(a.id, "alpha", "export", {
            status: "succeeded",
            finished: "2026-01-01T10:00:05.000Z",
            counts: { downloaded: 3 },
            bytes: 2048,
          });
          await store.saveStep(a.id, "alpha", "deploy", {
            position: 1,
            status: "failed",
            error: "boom",
            errorCode: "X",
          });
          await store.saveStep(b.id, "beta", "export", { position: 0, status: "succeeded", costUsd: 0.25 });
          await store.updateRun(a.id, {
            status: "failed",
            finished: "2026-01-01T10:01:00.000Z",
            error: "deploy failed",
          });

          const steps = await store.listSteps(a.id);
          expect(steps.map((s) => [s.step, s.status, s.position])).toEqual([
            ["export", "succeeded", 0],
            ["deploy", "failed", 1],
          ]);
          expect(steps[0]).toMatchObject({ counts: { downloaded: 3 }, bytes: 2048, started: a.started });
          expect(steps[1]).toMatchObject({ error: "boom", errorCode: "X", plan: [] });

          expect((await store.listRuns()).map((r) => r.id)).toEqual([b.id, a.id]);
          expect((await store.listRuns({ site: "alpha" })).map((r) => r.id)).toEqual([a.id]);
          expect((await store.listRuns({ status: "failed" })).map((r) => r.id)).toEqual([a.id]);
          // the next page after b (paging in the list's order), and nothing after the oldest
          expect((await store.listRuns({ before: b.id })).map((r) => r.id)).toEqual([a.id]);
          expect(await store.listRuns({ before: a.id })).toEqual([]);
          expect(await store.getRun(a.id)).toMatchObject({
            status: "failed",
            error: "deploy failed",
            finished: "2026-01-01T10:01:00.000Z",
            sites: ["alpha"],
            options: { concurrency: 2 },
            dryRun: false,
          });
          expect((await store.findRun("20260101"))?.id).toBe(a.id);
          expect(await store.findRun("1999")).toBeUndefined();
        });
      });

      it("many runs started in the same second all get distinct ids", async () => {
        await withStore(ctx, async (store) => {
          const ids = new Set<string>();
          for (let i = 0; i < many; i++) ids.add((await store.createRun(newRun())).id);
          expect(ids.size).toBe(many);
          expect((await store.listRuns({ limit: 5000 })).length).toBe(many);
        });
      });

      it("an ambiguous run id prefix is a usage error", async () => {
        await withStore(ctx, async (store) => {
          await store.createRun(newRun({ id: "20260101-100000-aaaa" }));
          await store.createRun(newRun({ id: "20260101-100000-aaab" }));
          await expect(store.findRun("20260101-1000")).rejects.toThrow(/ambiguous/);
          expect((await store.findRun("20260101-100000-aaab"))?.id).toBe("20260101-100000-aaab");
        });
      });
    });

    describe("store: documents, config versions, tokens", () => {
      it("documents carry versions and refuse a stale write", async () => {
        await withStore(ctx, async (store) => {
          const first = await store.putDocument("ledger", "2026-11", { spent: 1 }, { expectedVersion: 0 });
          expect(first.version).toBe(1);
          await store.putDocument("ledger", "2026-12", { spent: 2 });
          await store.putDocument("other", "2026-11", { spent: 9 });
          await expect(store.putDocument("ledger", "2026-11", { spent: 5 }, { expectedVersion: 0 })).rejects.toThrow(
            /changed meanwhile/,
          );
          const second = await store.putDocument("ledger", "2026-11", { spent: 3 }, { expectedVersion: 1 });
          expect(second.version).toBe(2);
          expect((await store.getDocument("ledger", "2026-11"))?.value).toEqual({ spent: 3 });
          expect((await store.listDocuments("ledger")).map((d) => d.key)).toEqual(["2026-11", "2026-12"]);
          expect((await store.listDocuments("ledger", "2026-1")).map((d) => d.key)).toEqual(["2026-11", "2026-12"]);
          expect((await store.listDocuments("ledger", "2026-12")).map((d) => d.value)).toEqual([{ spent: 2 }]);
          expect(await store.deleteDocument("ledger", "2026-12")).toBe(true);
          expect(await store.deleteDocument("ledger", "2026-12")).toBe(false);
          expect(await store.getDocument("ledger", "2026-12")).toBeUndefined();
        });
      });

      it("config versions get increasing ids and keep diff and snapshot as JSON", async () => {
        await withStore(ctx, async (store) => {
          const v1 = await store.addConfigVersion({ actor: "cli", source: "file", diff: [], snapshot: { a: 1 } });
          const v2 = await store.addConfigVersion({
            actor: "token:ci",
            source: "api",
            env: "production",
            diff: [{ path: "deploy.parallel", from: 8, to: 4 }],
            snapshot: { deploy: { parallel: 4 }, remote: { password: "secret://site/FTP_PASSWORD" } },
          });
          expect([v1.id, v2.id]).toEqual([1, 2]);
          expect(await store.getConfigVersion(2)).toEqual(v2);
          expect((await store.listConfigVersions()).map((v) => v.id)).toEqual([2, 1]);
          expect((await store.listConfigVersions({ env: "production" })).map((v) => v.id)).toEqual([2]);
          expect((await store.listConfigVersions({ beforeId: 2 })).map((v) => v.id)).toEqual([1]);
          expect((await store.latestConfigVersion())?.id).toBe(2);
          expect((await store.latestConfigVersion("staging"))?.id).toBeUndefined();
          expect(v1.env).toBeUndefined();
        });
      });

      it("tokens: create, find by hash, revoke, touch, unique names", async () => {
        await withStore(ctx, async (store) => {
          const token = await store.createToken({
            name: "ci",
            role: "editor",
            envs: ["staging"],
            hash: "sha256:abc",
            expires: "2030-01-01T00:00:00.000Z",
          });
          expect(token).toMatchObject({ revoked: undefined, lastUsed: undefined });
          await expect(
            store.createToken({ name: "ci", role: "admin", envs: ["*"], hash: "sha256:def", expires: undefined }),
          ).rejects.toThrow(/already exists/);
          expect((await store.findTokenByHash("sha256:abc"))?.name).toBe("ci");
          await store.touchToken("ci", "2026-01-01T00:00:00.000Z");
          expect(await store.revokeToken("ci", "2026-02-01T00:00:00.000Z")).toBe(true);
          // revoking again keeps the first revocation time
          await store.revokeToken("ci", "2027-01-01T00:00:00.000Z");
          expect(await store.getToken("ci")).toMatchObject({
            envs: ["staging"],
            lastUsed: "2026-01-01T00:00:00.000Z",
            revoked: "2026-02-01T00:00:00.000Z",
          });
          expect(await store.revokeToken("nobody")).toBe(false);
          expect((await store.listTokens()).map((t) => t.name)).toEqual(["ci"]);
          expect(await store.deleteToken("ci")).toBe(true);
          expect(await store.getToken("ci")).toBeUndefined();
        });
      });
    });

    describe("store: locks", () => {
      it("a held lock is refused; a stale one is taken over and reported", async () => {
        await withStore(ctx, async (store) => {
          const lock = { name: "site:alpha", owner: "run-1", pid: 1, host: "h", leaseMs: 60_000 };
          const first = await store.acquireLock(lock, () => false);
          expect(first).toEqual({ acquired: true, previous: undefined });
          const refused = await store.acquireLock({ ...lock, owner: "run-2" }, () => false);
          expect(refused.acquired).toBe(false);
          expect(!refused.acquired && refused.holder.owner).toBe("run-1");
          const held = await store.getLock("site:alpha");
          expect(Date.parse(held?.expires ?? "") - Date.parse(held?.heartbeat ?? "")).toBe(60_000);
          expect(await store.heartbeatLock("site:alpha", "run-2", 1000)).toBe(false);
          expect(await store.heartbeatLock("site:alpha", "run-1", 5000)).toBe(true);
          const renewed = await store.getLock("site:alpha");
          expect(Date.parse(renewed?.expires ?? "") - Date.parse(renewed?.heartbeat ?? "")).toBe(5000);
          const takeover = await store.acquireLock({ ...lock, owner: "run-2" }, (holder) => holder.owner === "run-1");
          expect(takeover.acquired && takeover.previous?.owner).toBe("run-1");
          // the old owner's release must not free the new owner's lock
          await store.releaseLock("site:alpha", "run-1");
          expect((await store.getLock("site:alpha"))?.owner).toBe("run-2");
          await store.releaseLock("site:alpha", "run-2");
          expect(await store.listLocks()).toEqual([]);
        });
      });
    });

    describe("store: audit chain", () => {
      it("appends from four connections at once without forking the chain; verify and read follow it", async () => {
        await withStore(ctx, async (store) => {
          const others = Array.from({ length: 4 }, () => ctx.openAnother(store));
          try {
            await Promise.all(
              others.map((other, n) => {
                const trail = createStoreAuditTrail(other);
                return (async () => {
                  for (let i = 0; i < 10; i++) {
                    await trail.append({ actor: `p${n}`, action: "read", ref: `r${i}`, env: "test", outcome: "ok" });
                  }
                })();
              }),
            );
          } finally {
            await Promise.all(others.map((other) => other.close()));
          }
          const rows = await store.listAudit();
          expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
          const trail = createStoreAuditTrail(store);
          expect(await trail.verify()).toEqual({ ok: true, entries: 40 });
          // read and verified in pages (7 entries a query here): the same answers
          const paged = createStoreAuditTrail(store, { pageSize: 7 });
          expect(await paged.verify()).toEqual({ ok: true, entries: 40 });
          expect((await paged.read({ actor: "p1" })).map((e) => e.ref)).toEqual(
            Array.from({ length: 10 }, (_, i) => `r${i}`),
          );
          expect((await trail.read({ actor: "p2" })).map((e) => e.ref)).toEqual(
            Array.from({ length: 10 }, (_, i) => `r${i}`),
          );
          expect((await store.listAudit({ afterSeq: 38 })).map((r) => r.seq)).toEqual([39, 40]);
          expect((await store.listAudit({ afterSeq: 10, limit: 2 })).map((r) => r.seq)).toEqual([11, 12]);
          expect(await store.getDocument("audit", "head")).toMatchObject({
            value: { count: 40, hash: rows[39]!.hash },
          });
        });
      });
    });

    describe("store: budget reservations", () => {
      it("keeps a settled call's answer in the settling transaction, next to its ledger entry", async () => {
        await withStore(ctx, async (store) => {
          const a = await store.reserveBudget({ ...HOLDER, amountUsd: 0.2 }, { maxMonthlyUsd: 1, isStale: NEVER });
          if (!a.granted) throw new Error("unreachable");
          const answer = { model: "m", value: { title: "<script>alert(1)</script>", sections: [] }, problems: [] };
          await store.settleBudget(a.reservation.id, costEntry(0.1), {
            namespace: "llm-answers",
            key: "s/t/a/0",
            value: answer,
          });
          expect((await store.getDocument("llm-answers", "s/t/a/0"))?.value).toEqual(answer);
          expect(await store.budgetSpend(MONTH)).toEqual({ settledUsd: 0.1, reservedUsd: 0 });
          // a second settle under the same key (a rerun that paid again) replaces it and bumps the version
          await store.settleBudget(undefined, costEntry(0.1), { namespace: "llm-answers", key: "s/t/a/0", value: 2 });
          const again = await store.getDocument("llm-answers", "s/t/a/0");
          expect([again?.value, again?.version]).toEqual([2, 2]);
          expect((await store.listCosts()).length).toBe(2);
          // a failed settle (a ledger row that cannot be written) keeps no answer either
          const bad = { ...costEntry(0.1), site: null as unknown as string };
          await expect(
            store.settleBudget(undefined, bad, { namespace: "llm-answers", key: "s/t/b/0", value: 1 }),
          ).rejects.toThrow();
          expect(await store.getDocument("llm-answers", "s/t/b/0")).toBeUndefined();
          expect((await store.listCosts()).length).toBe(2);
        });
      });

      it("grants within the limit counting settled and reserved spend, settles and releases", async () => {
        await withStore(ctx, async (store) => {
          const a = await store.reserveBudget({ ...HOLDER, amountUsd: 0.6 }, { maxMonthlyUsd: 1, isStale: NEVER });
          expect(a).toMatchObject({ granted: true, settledUsd: 0, reservedUsd: 0 });
          const b = await store.reserveBudget({ ...HOLDER, amountUsd: 0.6 }, { maxMonthlyUsd: 1, isStale: NEVER });
          expect(b).toEqual({ granted: false, settledUsd: 0, reservedUsd: 0.6 });
          if (!a.granted) throw new Error("unreachable");
          expect(a.reservation).toMatchObject({ month: MONTH, site: "shop", amountUsd: 0.6, owner: "o" });
          await store.settleBudget(a.reservation.id, costEntry(0.5));
          expect(await store.budgetSpend(MONTH)).toEqual({ settledUsd: 0.5, reservedUsd: 0 });
          const c = await store.reserveBudget({ ...HOLDER, amountUsd: 0.5 }, { maxMonthlyUsd: 1, isStale: NEVER });
          expect(c.granted).toBe(true);
          if (c.granted) await store.releaseBudget(c.reservation.id);
          expect(await store.budgetSpend(MONTH)).toEqual({ settledUsd: 0.5, reservedUsd: 0 });
          const unlimited = await store.reserveBudget({ ...HOLDER, amountUsd: 99 }, { isStale: NEVER });
          expect(unlimited.granted).toBe(true);
          expect(await store.budgetSpend(MONTH)).toEqual({ settledUsd: 0.5, reservedUsd: 99 });
          expect(await store.budgetSpend("2026-11")).toEqual({ settledUsd: 0, reservedUsd: 0 });
          const costs = await store.listCosts({ month: MONTH });
          expect(costs).toEqual([costEntry(0.5)]);
          expect(await store.listCosts({ site: "other" })).toEqual([]);
        });
      });

      it("drops stale reservations when reserving, heartbeats an owner's reservations, imports a source once", async () => {
        await withStore(ctx, async (store) => {
          await store.reserveBudget({ ...HOLDER, owner: "dead", amountUsd: 0.9 }, { maxMonthlyUsd: 1, isStale: NEVER });
          const refused = await store.reserveBudget(
            { ...HOLDER, amountUsd: 0.5 },
            { maxMonthlyUsd: 1, isStale: NEVER },
          );
          expect(refused.granted).toBe(false);
          const isDead = (r: BudgetReservation) => r.owner === "dead";
          expect(await store.budgetSpend(MONTH, isDead)).toEqual({ settledUsd: 0, reservedUsd: 0 });
          const granted = await store.reserveBudget(
            { ...HOLDER, amountUsd: 0.5 },
            { maxMonthlyUsd: 1, isStale: isDead },
          );
          expect(granted).toMatchObject({ granted: true, reservedUsd: 0 });
          expect(await store.budgetSpend(MONTH)).toEqual({ settledUsd: 0, reservedUsd: 0.5 });
          expect(await store.heartbeatBudget("o")).toBe(1);
          expect(await store.heartbeatBudget("nobody")).toBe(0);
          expect(await store.importCosts("/x/ledger.jsonl", [costEntry(0.1), costEntry(0.2)])).toBe(2);
          expect(await store.importCosts("/x/ledger.jsonl", [costEntry(0.1), costEntry(0.2)])).toBe(0);
          expect((await store.budgetSpend(MONTH)).settledUsd).toBeCloseTo(0.3, 9);
        });
      });

      it("16 concurrent reservers on separate connections never exceed the budget", async () => {
        await withStore(ctx, async (store) => {
          const others = Array.from({ length: 16 }, () => ctx.openAnother(store));
          try {
            // 16 reservers x 10 attempts of $0.07 against $5: at most 71 fit; every grant is settled at its full cost
            const results = await Promise.all(
              others.map(async (other, n) => {
                let granted = 0;
                for (let i = 0; i < 10; i++) {
                  const r = await other.reserveBudget(
                    { ...HOLDER, owner: `r${n}`, amountUsd: 0.07 },
                    { maxMonthlyUsd: 5, isStale: NEVER },
                  );
                  if (!r.granted) continue;
                  granted++;
                  if (i % 2 === 0) await other.settleBudget(r.reservation.id, costEntry(0.07));
                }
                return granted;
              }),
            );
            const total = results.reduce((a, b) => a + b, 0);
            const spend = await store.budgetSpend(MONTH);
            expect(total).toBe(71);
            expect(spend.settledUsd + spend.reservedUsd).toBeLessThanOrEqual(5);
            expect(spend.settledUsd + spend.reservedUsd).toBeCloseTo(71 * 0.07, 6);
            expect((await store.listCosts({ month: MONTH })).length).toBe(Math.round(spend.settledUsd / 0.07));
          } finally {
            await Promise.all(others.map((o) => o.close()));
          }
        });
      });
    });

    describe("store: published items", () => {
      it("saves, replaces, lists by target and kind, and deletes", async () => {
        await withStore(ctx, async (store) => {
          const target = "wordpress:https://blog.example|shop";
          await store.savePublished({
            target,
            kind: "post",
            key: "b",
            remoteId: "2",
            hash: "h2",
            info: { link: "/b" },
          });
          await store.savePublished({ target, kind: "post", key: "a", remoteId: "1", hash: "h1", info: {} });
          await store.savePublished({ target, kind: "media", key: "z", remoteId: "9", hash: "", info: {} });
          await store.savePublished({ target: "other", kind: "post", key: "a", remoteId: "5", hash: "x", info: {} });
          await store.savePublished({ target, kind: "post", key: "b", remoteId: "3", hash: "h3", info: { n: 1 } });
          const all = await store.listPublished(target);
          expect(all.map((p) => [p.kind, p.key, p.remoteId])).toEqual([
            ["media", "z", "9"],
            ["post", "a", "1"],
            ["post", "b", "3"],
          ]);
          expect(all[2]).toMatchObject({ target, hash: "h3", info: { n: 1 } });
          expect(Date.parse(all[2]?.updated ?? "")).not.toBeNaN();
          expect((await store.listPublished(target, "post")).map((p) => p.key)).toEqual(["a", "b"]);
          expect(await store.deletePublished(target, "post", "a")).toBe(true);
          expect(await store.deletePublished(target, "post", "a")).toBe(false);
          expect((await store.listPublished(target, "post")).map((p) => p.key)).toEqual(["b"]);
          expect(await store.schemaVersion()).toBeGreaterThanOrEqual(4);
        });
      });
    });

    describe("store: alert deliveries", () => {
      it("queues once per id, claims each due delivery for one claimer, records failures and sends", async () => {
        await withStore(ctx, async (store) => {
          const payload = { kind: "secret.reveal", summary: "s" };
          const base = { alertKey: "secret.reveal:1", kind: "secret.reveal", payload };
          expect(await store.enqueueAlert({ ...base, id: "secret.reveal:1/hook", channel: "hook" })).toBe(true);
          expect(await store.enqueueAlert({ ...base, id: "secret.reveal:1/hook", channel: "hook" })).toBe(false);
          expect(await store.enqueueAlert({ ...base, id: "secret.reveal:1/mail", channel: "mail" })).toBe(true);
          const other = ctx.openAnother(store);
          try {
            // two claimers at once (two processes): each delivery goes to exactly one
            const [a, b] = await Promise.all([
              store.claimAlerts("a", { limit: 10, leaseMs: 60_000 }),
              other.claimAlerts("b", { limit: 10, leaseMs: 60_000 }),
            ]);
            expect([...a, ...b].map((d) => d.id).sort()).toEqual(["secret.reveal:1/hook", "secret.reveal:1/mail"]);
            // a live claim is not claimed again; a claim whose owner is gone is
            expect(await store.claimAlerts("c", { limit: 10, leaseMs: 60_000 })).toEqual([]);
            const taken = await store.claimAlerts("c", { limit: 10, leaseMs: 60_000, isStale: () => true });
            expect(taken).toHaveLength(2);
          } finally {
            await other.close();
          }
          const later = new Date(Date.now() + 3_600_000).toISOString();
          await store.finishAlert("secret.reveal:1/hook", { sent: false, error: "HTTP 503", nextAttempt: later });
          await store.finishAlert("secret.reveal:1/mail", { sent: true });
          expect(await store.claimAlerts("d", { limit: 10, leaseMs: 60_000 })).toEqual([]);
          const due = await store.claimAlerts("d", { limit: 10, leaseMs: 60_000, now: "9999" });
          expect(due.map((d) => [d.id, d.attempts, d.lastError, d.nextAttempt])).toEqual([
            ["secret.reveal:1/hook", 1, "HTTP 503", later],
          ]);
          const listed = await store.listAlerts();
          expect(listed.map((d) => [d.channel, d.status]).sort()).toEqual([
            ["hook", "pending"],
            ["mail", "sent"],
          ]);
          expect(listed[0]?.payload).toEqual(payload);
          expect((await store.listAlerts({ status: "sent" })).map((d) => d.id)).toEqual(["secret.reveal:1/mail"]);
          expect([
            await store.countAlerts("pending"),
            await store.countAlerts("sent"),
            await store.countAlerts(),
          ]).toEqual([1, 1, 2]);
          expect(await store.schemaVersion()).toBeGreaterThanOrEqual(6);
        });
      });
    });

    describe("store: console sessions", () => {
      it("keeps sessions for every connection, slides and ends them, and sweeps the expired at sign-in", async () => {
        await withStore(ctx, async (store) => {
          // times far ahead: a sign-in sweeps by the real clock
          const t0 = Date.parse("2100-03-01T10:00:00.000Z");
          const at = (ms: number) => new Date(t0 + ms).toISOString();
          const session = { id: "sha256:aa", tokenHash: "sha256:tok", csrf: "c1", created: at(0), expires: at(60_000) };
          await store.createSession(session);
          await store.createSession({ ...session, id: "sha256:bb", csrf: "c2", expires: at(1_000) });
          const past = "2020-01-01T00:00:00.000Z";
          await store.createSession({ ...session, id: "sha256:old", created: past, expires: past });
          const other = ctx.openAnother(store);
          try {
            // another process (a second API instance) sees the session at once
            expect(await other.getSession("sha256:aa", at(0))).toEqual(session);
            expect(await other.getSession("sha256:bb", at(2_000))).toBeUndefined();
            expect(await other.touchSession("sha256:aa", at(120_000))).toBe(true);
            expect((await store.getSession("sha256:aa", at(90_000)))?.expires).toBe(at(120_000));
            expect(await store.touchSession("sha256:none", at(1))).toBe(false);
            expect((await store.getSession("sha256:old", "2019-01-01T00:00:00.000Z"))?.csrf).toBe("c1");
            // the next sign-in drops what expired by now
            await other.createSession({ ...session, id: "sha256:cc" });
            expect(await store.getSession("sha256:old", "2019-01-01T00:00:00.000Z")).toBeUndefined();
            expect((await store.getSession("sha256:aa", at(0)))?.tokenHash).toBe("sha256:tok");
            expect(await store.deleteSession("sha256:cc")).toBe(true);
            expect(await other.getSession("sha256:cc", at(0))).toBeUndefined();
            expect(await store.deleteSession("sha256:cc")).toBe(false);
          } finally {
            await other.close();
          }
        });
      });
    });

    describe("store: locks across processes", () => {
      it("concurrent acquirers on separate connections: exactly one wins", async () => {
        await withStore(ctx, async (store) => {
          const others = Array.from({ length: 8 }, () => ctx.openAnother(store));
          try {
            const results = await Promise.all(
              others.map((other, n) =>
                other.acquireLock({ name: "site:race", owner: `run-${n}`, pid: 1, host: "h", leaseMs: 60_000 }, NEVER),
              ),
            );
            expect(results.filter((r) => r.acquired)).toHaveLength(1);
          } finally {
            await Promise.all(others.map((o) => o.close()));
          }
        });
      });

      it("a holder on another machine that dies (kill -9) loses its lock once its lease runs out", async () => {
        await withStore(ctx, async (store) => {
          const child = _holdLockInChild(ctx.url(store), { name: "site:alpha", leaseMs: 1_500, host: "machine-b" });
          try {
            await child.held;
            // while the child heartbeats, its lock outlives several leases
            await sleep(2_500);
            await expect(
              acquireLock({ store, name: "site:alpha", owner: "run-a", subject: "site alpha" }),
            ).rejects.toMatchObject({ code: "ERR_LOCKED" });
            const before = await store.getLock("site:alpha");
            expect(before).toMatchObject({ owner: "child", host: "machine-b" });
            expect(Date.parse(before?.heartbeat ?? "")).toBeGreaterThan(Date.parse(before?.acquired ?? ""));
            child.kill();
            const takeovers: string[] = [];
            const held = await acquireLock({
              store,
              name: "site:alpha",
              owner: "run-a",
              subject: "site alpha",
              waitMs: 30_000,
              pollMs: 100,
              onTakeover: (_previous, message) => takeovers.push(message),
            });
            expect(held.previous?.owner).toBe("child");
            expect(takeovers).toEqual([expect.stringMatching(/is no longer running; took over its lock$/)]);
            await held.release();
            expect(await store.listLocks()).toEqual([]);
          } finally {
            child.kill();
          }
        });
      });
    });
  });
}

// --- internal ---

const MONTH = "2026-12";
const HOLDER = { month: MONTH, site: "shop", topicId: "id", owner: "o", pid: process.pid, host: "h" };
const NEVER = () => false;

function costEntry(costUsd: number): CostEntry {
  return {
    time: `${MONTH}-07T01:00:00.000Z`,
    site: "shop",
    topic: "t",
    topicId: "id",
    provider: "openai",
    model: "m",
    step: "outline",
    inputTokens: 1200,
    outputTokens: 3400,
    costUsd,
    ok: true,
  };
}

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    env: "development",
    sites: ["alpha", "beta"],
    steps: ["export", "deploy"],
    dryRun: false,
    started: new Date().toISOString(),
    actor: "tester@host",
    host: "host",
    pid: process.pid,
    options: { concurrency: 2 },
    ...overrides,
  };
}

async function withStore(ctx: StoreContractContext, fn: (store: StateStore) => Promise<void>): Promise<void> {
  const store = await ctx.open();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/** A separate Node process that takes a lock as another machine would, heartbeats it, and can be SIGKILLed. */
function _holdLockInChild(
  url: string,
  lock: { name: string; leaseMs: number; host: string },
): { held: Promise<void>; kill(): void } {
  const storeModule = new URL("../../src/store/index.ts", import.meta.url).href;
  const script = `
    const m = await import(${JSON.stringify(storeModule)});
    const store = m.openStateStore({ stateDir: "/nonexistent" });
    const lock = ${JSON.stringify(lock)};
    const r = await store.acquireLock({ name: lock.name, owner: "child", pid: process.pid, host: lock.host,
      leaseMs: lock.leaseMs }, () => false);
    if (!r.acquired) { console.error("not acquired"); process.exit(3); }
    setInterval(() => { store.heartbeatLock(lock.name, "child", lock.leaseMs).catch(() => {}); }, lock.leaseMs / 4);
    console.log("held");`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: { ...process.env, SITELOOM_STORE: url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d) => {
      if (String(d).includes("held")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`lock holder exited ${code}: ${err}`)));
  });
  return {
    held,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
