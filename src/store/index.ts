/**
 * State store: runs and their steps, generic JSON documents, runtime-config versions, API tokens and named locks,
 * behind one small async interface (`StateStore`, see ./types.ts). SQLite (better-sqlite3) at
 * `.siteloom/state.db` is the embedded default; PostgreSQL (./postgres.ts, `store.url: postgres://…` or
 * SITELOOM_STORE) is the shared store of many machines. Both run the same versioned migrations (./migrations.ts)
 * and pass one contract suite (test/store/contract.test.ts).
 *
 * ```ts
 * import { openStateStore } from "../store/index.ts";
 * const store = openStateStore({ stateDir: workspace.stateDir });   // creates + migrates on first use
 *
 * // runs (written by the pipeline)
 * const run = await store.createRun({ env, sites, steps, dryRun, started, actor, host, pid, options });
 * await store.saveStep(run.id, "example", "deploy", { status: "succeeded", bytes: 1234, counts: { uploaded: 3 } });
 * await store.updateRun(run.id, { status: "succeeded", finished: new Date().toISOString() });
 * await store.listRuns({ site: "example", limit: 20 });  await store.findRun("20261125-2107");
 *
 * // documents: any JSON value by (namespace, key), with optimistic concurrency
 * const doc = await store.putDocument("service", "settings", { a: 1 });            // version 1
 * await store.putDocument("service", "settings", { a: 2 }, { expectedVersion: 1 }); // ERR_STORE_CONFLICT if raced
 * await store.getDocument("service", "settings");  await store.listDocuments("service", "prefix");
 *
 * // configuration versions (id assigned 1, 2, 3... atomically; diff/snapshot are JSON, never resolved secrets)
 * const v = await store.addConfigVersion({ actor: "token:ci", source: "api", env: "production", diff, snapshot });
 * await store.getConfigVersion(v.id);  await store.listConfigVersions({ env: "production", limit: 10 });
 * await store.latestConfigVersion("production");
 *
 * // tokens (only a hash is stored): name, role, envs, hash, created, expires, revoked, lastUsed
 * await store.createToken({ name: "ci", role: "editor", envs: ["staging"], hash: "sha256:…", expires: undefined });
 * await store.findTokenByHash(hash);  await store.revokeToken("ci");  await store.touchToken("ci");
 *
 * // locks: use acquireLock() of ./lock.ts (lease, heartbeat, stale-holder rules, waiting); the raw calls are
 * const held = await acquireLock({ store, name: "site:example", owner: runId, subject: "site example" });
 * await held.release();
 * await store.acquireLock({ name, owner, pid, host, leaseMs }, isStale);  await store.heartbeatLock(name, owner, leaseMs);
 *
 * await store.close();
 * ```
 *
 * // published items of second targets (migration 3): what a WordPress publish put where, with the hash sent
 * await store.savePublished({ target, kind: "post", key: articleId, remoteId: "42", hash, info: { link } });
 * await store.listPublished(target, "post");  await store.deletePublished(target, "post", articleId);
 *
 * Tables (migration 1): runs, run_steps, documents, config_versions, tokens, locks, plus schema_migrations;
 * migration 2 gives locks a lease expiry; migration 3 adds published.
 * Times are ISO-8601 UTC strings. Several processes may open the same database at once (WAL, busy timeout).
 */
import { join } from "node:path";
import { SiteloomError } from "../errors.ts";
import { redactUrl } from "../secret.ts";
import { createPostgresStore } from "./postgres.ts";
import { createSqliteStore } from "./sqlite.ts";
import type { StateStore } from "./types.ts";

export { redactUrl } from "../secret.ts";
export { type ListenOptions, listenPg, type PgListener } from "./listen.ts";
export {
  type AcquireLockOptions,
  acquireLock,
  DEFAULT_LEASE_MS,
  type HeldLock,
  isProcessAlive,
  isStaleHolder,
} from "./lock.ts";
export {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  type Migration,
  type MigrationStatement,
  type StoreDialect,
  statementSql,
} from "./migrations.ts";
export { connectPg } from "./pg-client.ts";
export { isConnectionError } from "./pg-errors.ts";
export { type PgTransactionOptions, withPgTransaction } from "./pg-transaction.ts";
export { createPostgresStore, type PostgresStoreOptions } from "./postgres.ts";
export { createSqliteStore, newRunId, type SqliteStoreOptions } from "./sqlite.ts";
export type {
  AlertDelivery,
  AlertDeliveryStatus,
  BudgetReservation,
  BudgetSpend,
  CallLimiter,
  CallLimits,
  ConfigVersion,
  ConsoleSessionRecord,
  CostEntry,
  KeptDocument,
  ListRunsOptions,
  LockRecord,
  NewAlertDelivery,
  NewBudgetReservation,
  NewConfigVersion,
  NewRun,
  NewToken,
  PublishedItem,
  ReserveBudgetResult,
  RunRecord,
  RunStatus,
  RunStepPatch,
  RunStepRecord,
  SealedAuditEntry,
  StateStore,
  StepStatus,
  StoredAuditEntry,
  StoredDocument,
  TokenRecord,
} from "./types.ts";

/** File name of the embedded database inside the workspace's state folder. */
export const STATE_DB_FILE = "state.db";

export interface OpenStateStoreOptions {
  /** The workspace's `.siteloom/` folder (`workspace.stateDir`). */
  stateDir: string;
  /**
   * Store location: unset or `sqlite:` for `<stateDir>/state.db`, `sqlite:<path>` for another file,
   * `:memory:` for a throwaway store, `postgres://user:password@host:port/database` for PostgreSQL.
   * SITELOOM_STORE, when set, wins (it is how one process is pointed elsewhere without editing siteloom.yaml).
   */
  url?: string | undefined;
  /**
   * The PostgreSQL URL as a reference resolved at first use (`store.url` of siteloom.yaml): opening stays
   * synchronous, and a secret is fetched only when the store is used. Ignored when `url` or SITELOOM_STORE is set.
   */
  resolveUrl?: (() => Promise<string>) | undefined;
  /** PostgreSQL connections kept by this process. @default 10 */
  poolSize?: number | undefined;
  /** How long PostgreSQL calls retry a lost or refused connection (`siteloom doctor` answers sooner). @default 30000 */
  reconnectMs?: number | undefined;
}

/** Opens the workspace's state store (creating and migrating it on first use). */
export function openStateStore(options: OpenStateStoreOptions): StateStore {
  const url = process.env.SITELOOM_STORE || options.url || "";
  const pool = {
    ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
    ...(options.reconnectMs === undefined ? {} : { reconnectMs: options.reconnectMs }),
  };
  if (url === "" && options.resolveUrl) return createPostgresStore({ url: options.resolveUrl, ...pool });
  if (url === "" || url === "sqlite:") return createSqliteStore({ path: join(options.stateDir, STATE_DB_FILE) });
  if (url === ":memory:") return createSqliteStore({ path: ":memory:" });
  if (url.startsWith("sqlite:")) return createSqliteStore({ path: url.slice("sqlite:".length) });
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) return createPostgresStore({ url, ...pool });
  throw new SiteloomError(
    "ERR_USAGE",
    `unknown state store "${redactUrl(url)}"; use postgres://…, sqlite:<path>, or leave SITELOOM_STORE and store.url unset`,
  );
}
