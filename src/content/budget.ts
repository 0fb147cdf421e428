import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { activityWanted, publishActivity } from "../events.ts";
import { isProcessAlive } from "../processes.ts";
import type { BudgetReservation, BudgetSpend, CostEntry, StateStore } from "../store/index.ts";

/** A reservation not refreshed for this long belongs to a process that is gone (another host, or a reused pid). */
const RESERVATION_LEASE_MS = 60_000;
/** How often a process with calls in flight refreshes its reservations. */
const HEARTBEAT_MS = 15_000;
/** Store documents holding settled answers not yet written into an article (`BudgetGuard.recall`). */
const ANSWERS_NAMESPACE = "llm-answers";

export interface BudgetGuardOptions {
  store: StateStore;
  /** YYYY-MM the spend counts in. */
  month: string;
  site: string;
  /** budgets.maxMonthlyCost of the site; undefined: no monthly limit (calls are still reserved and settled). */
  maxMonthlyUsd?: number | undefined;
}

export type Reservation = { granted: true; id: string } | ({ granted: false } & BudgetSpend);

/**
 * Budgets as reservations: before a model call its worst-case cost is reserved in the state store against the
 * month's settled + reserved spend of the whole workspace (one transaction), settled with the real usage after the
 * call or released when it fails. Calls in flight in every process count, so no interleaving overspends.
 */
export interface BudgetGuard {
  reserve(topicId: string, amountUsd: number): Promise<Reservation>;
  /**
   * Records the call in the ledger with its real cost and drops its reservation, atomically; `answer` (what the call
   * returned, under `answerKey`) is kept in the same transaction for `recall`.
   */
  settle(reservationId: string, entry: CostEntry, answer?: { key: string; value: unknown }): Promise<void>;
  /** An answer settled earlier (a run killed before it used it): paid for already, so used instead of a new call. */
  recall(key: string): Promise<unknown>;
  /** Drops the kept answers whose keys start with `prefix` (their article is written, or has failed for good). */
  forget(prefix: string): Promise<void>;
  release(reservationId: string): Promise<void>;
  /** The month's settled spend and live reservations. */
  spend(): Promise<BudgetSpend>;
  /** Stops the heartbeat (reservations still held are released by their callers). */
  close(): void;
}

export function createBudgetGuard(options: BudgetGuardOptions): BudgetGuard {
  const { store } = options;
  const host = hostname();
  const owner = `${host}:${process.pid}:${randomBytes(4).toString("hex")}`;
  let held = 0;
  // the lease must outlive slow calls and retries: refreshed while anything is held
  const timer = setInterval(() => {
    if (held > 0) void store.heartbeatBudget(owner).catch(() => {});
  }, HEARTBEAT_MS);
  timer.unref();
  const isStale = (r: BudgetReservation) => isStaleReservation(r, host);
  return {
    async reserve(topicId, amountUsd) {
      const result = await store.reserveBudget(
        { month: options.month, site: options.site, topicId, amountUsd, owner, pid: process.pid, host },
        { maxMonthlyUsd: options.maxMonthlyUsd, isStale },
      );
      if (!result.granted) return result;
      held++;
      return { granted: true, id: result.reservation.id };
    },
    async settle(id, entry, answer) {
      await store.settleBudget(
        id,
        entry,
        answer === undefined ? undefined : { namespace: ANSWERS_NAMESPACE, key: answer.key, value: answer.value },
      );
      held--;
      const { provider, model, site, inputTokens, outputTokens, costUsd, ok } = entry;
      publishActivity({ kind: "llm.call", provider, model, site, inputTokens, outputTokens, costUsd, ok });
      if (options.maxMonthlyUsd && activityWanted()) {
        // alerts turn this into budget.threshold (once per month and threshold); cheap when nothing listens
        const spend = await store.budgetSpend(options.month, isStale).catch(() => undefined);
        if (spend) {
          publishActivity({
            kind: "budget.spend",
            month: options.month,
            spentUsd: spend.settledUsd,
            maxUsd: options.maxMonthlyUsd,
          });
        }
      }
    },
    async recall(key) {
      return (await store.getDocument(ANSWERS_NAMESPACE, key))?.value;
    },
    async forget(prefix) {
      for (const doc of await store.listDocuments(ANSWERS_NAMESPACE, prefix)) {
        await store.deleteDocument(ANSWERS_NAMESPACE, doc.key);
      }
    },
    async release(id) {
      await store.releaseBudget(id);
      held--;
    },
    spend() {
      return store.budgetSpend(options.month, isStale);
    },
    close() {
      clearInterval(timer);
    },
  };
}

/**
 * Whether a reservation was abandoned: on this host, its process is gone (or the pid was reused long after its
 * heartbeat stopped); elsewhere, its heartbeat is older than the lease.
 */
function isStaleReservation(r: BudgetReservation, host: string, now = Date.now()): boolean {
  const age = now - Date.parse(r.heartbeat);
  if (r.host === host) return !isProcessAlive(r.pid) || age > RESERVATION_LEASE_MS * 10;
  return age > RESERVATION_LEASE_MS;
}
