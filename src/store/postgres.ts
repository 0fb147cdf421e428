import type pg from "pg";
import { SiteloomError } from "../errors.ts";
import { runWithRetry } from "../retry.ts";
import { redactUrl } from "../secret.ts";
import { listenPg, type PgListener } from "./listen.ts";
import { LATEST_SCHEMA_VERSION, MIGRATIONS, statementSql } from "./migrations.ts";
import { connectPg } from "./pg-client.ts";
import { isConnectionError } from "./pg-errors.ts";
import { createPgCallLimiter } from "./pg-limiter.ts";
import { loadPg } from "./pg-module.ts";
import { withPgTransaction } from "./pg-transaction.ts";
import {
  ALL_ROWS,
  type AlertRow,
  alertFromRow,
  type ConfigRow,
  type CostRow,
  configFromRow,
  costFromRow,
  costRowValues,
  type DocRow,
  docFromRow,
  INSERT_AUDIT_SQL,
  INSERT_COST_SQL,
  keptRowValues,
  LAST_AUDIT_SQL,
  LIST_AUDIT_SQL,
  newRunId,
  newStepRecord,
  nowIso,
  type PublishedRow,
  publishedFromRow,
  type ReservationRow,
  type RunRow,
  reservationFromRow,
  roundUsd,
  runFromRow,
  type StepRow,
  sealAudit,
  stepFromRow,
  type TokenRow,
  tokenFromRow,
  UPSERT_KEPT_SQL,
} from "./rows.ts";
import {
  alertRowValues,
  ambiguousRunError,
  COST_IMPORT_DONE_SQL,
  COST_IMPORT_SEEN_SQL,
  checkDocumentVersion,
  finishAlertQuery,
  heartbeatLockQuery,
  INSERT_ALERT_SQL,
  INSERT_CONFIG_VERSION_SQL,
  INSERT_RUN_SQL,
  INSERT_TOKEN_SQL,
  listAlertsQuery,
  listConfigVersionsQuery,
  listCostsQuery,
  listRunsQuery,
  lockRowValues,
  MONTH_RESERVATIONS_SQL,
  newConfigVersion,
  newReservation,
  newRunRecord,
  newToken,
  reservationRowValues,
  runPrefixQuery,
  runRowValues,
  SETTLED_SQL,
  stepRowValues,
  tokenExistsError,
  UPSERT_DOCUMENT_SQL,
  UPSERT_LOCK_SQL,
  UPSERT_STEP_SQL,
  updateRunQuery,
} from "./sql.ts";
import type {
  CallLimiter,
  ConfigVersion,
  ConsoleSessionRecord,
  LockRecord,
  RunStepRecord,
  StateStore,
  StoredAuditEntry,
  StoredDocument,
} from "./types.ts";

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:port/database` (libpq URL; `?sslmode=require` etc. work), or a function giving it
   * (a reference resolved at first use, so opening the store stays synchronous).
   */
  url: string | (() => Promise<string>);
  /** Connections kept by this process. @default 10 */
  poolSize?: number;
  /**
   * How long a call keeps trying while the server cannot be reached (restart, failover) before it fails with
   * ERR_STORE. @default 30000
   */
  reconnectMs?: number;
}

const DEFAULTS = { poolSize: 10, reconnectMs: 30_000 };

/** Key of the advisory lock that serialises migrations between processes opening a new database at once. */
const MIGRATION_LOCK = "siteloom:migrations";

/** Key of the advisory lock that serialises appends to the audit chain. */
const AUDIT_LOCK = "audit";

/**
 * The state store on PostgreSQL, for many machines: the same tables and migrations as SQLite (migrations.ts), a
 * connection pool, and every multi-step write in one transaction that first takes a transaction-scoped advisory
 * lock on what it changes (a lock name, a budget month, a document), so processes on any machine are serialised
 * exactly where SQLite's IMMEDIATE transactions serialise them. Calls that find the server gone (restart, network)
 * retry until `reconnectMs` runs out; a write is retried only when it is certain it was not committed.
 */
export function createPostgresStore(options: PostgresStoreOptions): StateStore {
  const opts = { ...DEFAULTS, ...options };
  let location = typeof opts.url === "string" ? redactUrl(opts.url) : "postgres (url not resolved yet)";
  let ready: Promise<pg.Pool> | undefined;
  let closed = false;
  const limiters = new Map<string, CallLimiter>();

  const pool = (): Promise<pg.Pool> => {
    if (closed) return Promise.reject(new SiteloomError("ERR_STORE", "the PostgreSQL state store is closed"));
    ready ??= (async () => {
      const url = typeof opts.url === "string" ? opts.url : await opts.url();
      if (!/^postgres(ql)?:\/\//.test(url)) {
        throw new SiteloomError(
          "ERR_CONFIG_INVALID",
          `store.url must be a postgres:// URL, got "${redactUrl(url)}"; leave it unset for .siteloom/state.db`,
        );
      }
      location = redactUrl(url);
      const pgModule = await loadPg();
      const created = new pgModule.Pool({
        connectionString: url,
        max: opts.poolSize,
        idleTimeoutMillis: 30_000,
        connectionTimeoutMillis: 5_000,
        types: { getTypeParser: _typeParser(pgModule) },
      });
      // An idle connection the server dropped (restart, admin shutdown) is discarded by the pool; the next call
      // opens a new one. Without a listener the error would crash the process.
      created.on("error", () => undefined);
      try {
        await _retrying(opts.reconnectMs, location, () => _migrate(created));
      } catch (error) {
        await created.end().catch(() => undefined);
        throw error;
      }
      return created;
    })();
    // a failed start is not kept: the next call tries again (the server may be up by then)
    ready.catch(() => {
      ready = undefined;
    });
    return ready;
  };

  /** One read-only statement (retried on lost connections). */
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> => {
    const p = await pool();
    return _retrying(opts.reconnectMs, location, async () => (await p.query<R>(_numbered(sql), params)).rows);
  };

  /**
   * One writing statement on its own (autocommit): reaching the server is retried, but a statement whose connection
   * is lost after it was sent is not, since it may have been applied.
   */
  const write = async <R extends pg.QueryResultRow>(sql: string, params: unknown[], name?: string): Promise<R[]> => {
    const p = await pool();
    const client = await _retrying(opts.reconnectMs, location, () => connectPg(p));
    let broken = false;
    try {
      return (await client.query<R>(_statement(sql, params, name))).rows;
    } catch (error) {
      broken = isConnectionError(error);
      if (!broken) throw error;
      throw new SiteloomError(
        "ERR_STORE",
        `the connection to ${location} was lost during a write; the change may or may not have been saved`,
        { cause: error },
      );
    } finally {
      client.release(broken);
    }
  };

  /**
   * Runs `work` in one transaction after taking the advisory locks `keys` (in a fixed order, so two writers never
   * wait on each other crosswise). Retried from the start when the connection is lost before COMMIT.
   */
  const tx = async <T>(keys: string[], work: (q: TxQuery) => Promise<T>): Promise<T> => {
    const p = await pool();
    return _retrying(opts.reconnectMs, location, () =>
      withPgTransaction(p, { locks: keys, location }, (client) =>
        work(async (sql, params = []) => {
          const result = await client.query(_numbered(sql), params);
          return { rows: result.rows, count: result.rowCount ?? 0 };
        }),
      ),
    );
  };

  const store: StateStore = {
    kind: "postgres",
    get location() {
      return location;
    },

    async createRun(run) {
      const record = newRunRecord(run);
      return tx([], async (q) => {
        // Generated ids carry a short random suffix; on the rare collision (many runs in one second), draw again.
        for (let attempt = 0; ; attempt++) {
          const inserted = await q(`${INSERT_RUN_SQL} ON CONFLICT (id) DO NOTHING`, runRowValues(record));
          if (inserted.count === 1) break;
          if (run.id !== undefined || attempt >= 20) {
            throw new SiteloomError("ERR_STORE_CONFLICT", `a run with id ${record.id} already exists`);
          }
          record.id = newRunId();
        }
        return record;
      });
    },

    async updateRun(id, patch) {
      const update = updateRunQuery(id, patch);
      if (update) await tx([], (q) => q(update.sql, update.values));
    },

    async getRun(id) {
      const [row] = await query<RunRow>("SELECT * FROM runs WHERE id = ?", [id]);
      return row ? runFromRow(row) : undefined;
    },

    async findRun(idOrPrefix) {
      const exact = await store.getRun(idOrPrefix);
      if (exact) return exact;
      const prefix = runPrefixQuery(idOrPrefix);
      const rows = await query<RunRow>(prefix.sql, prefix.values);
      if (rows.length > 1) throw ambiguousRunError(idOrPrefix);
      return rows[0] ? runFromRow(rows[0]) : undefined;
    },

    async listRuns(options = {}) {
      const list = listRunsQuery(options);
      return (await query<RunRow>(list.sql, list.values)).map(runFromRow);
    },

    async saveStep(runId, site, step, patch) {
      return tx([`step:${runId}:${site}:${step}`], async (q) => {
        const [existing] = (
          await q("SELECT * FROM run_steps WHERE run_id = ? AND site = ? AND step = ?", [runId, site, step])
        ).rows as StepRow[];
        const base: RunStepRecord = existing ? stepFromRow(existing) : newStepRecord(runId, site, step);
        const next: RunStepRecord = { ...base, ...patch, runId, site, step };
        await q(UPSERT_STEP_SQL, stepRowValues(next));
        return next;
      });
    },

    async listSteps(runId) {
      return (await query<StepRow>("SELECT * FROM run_steps WHERE run_id = ? ORDER BY site, position", [runId])).map(
        stepFromRow,
      );
    },

    async getDocument<T>(namespace: string, key: string) {
      const [row] = await query<DocRow>("SELECT * FROM documents WHERE namespace = ? AND doc_key = ?", [
        namespace,
        key,
      ]);
      return row ? docFromRow<T>(row) : undefined;
    },

    async putDocument<T>(namespace: string, key: string, value: T, options: { expectedVersion?: number } = {}) {
      return tx([`doc:${namespace}:${key}`], async (q): Promise<StoredDocument<T>> => {
        const [row] = (await q("SELECT version FROM documents WHERE namespace = ? AND doc_key = ?", [namespace, key]))
          .rows as { version: number }[];
        const current = row?.version ?? 0;
        checkDocumentVersion(namespace, key, current, options.expectedVersion);
        const doc: StoredDocument<T> = { namespace, key, value, version: current + 1, updated: nowIso() };
        await q(UPSERT_DOCUMENT_SQL, [namespace, key, JSON.stringify(value), doc.version, doc.updated]);
        return doc;
      });
    },

    async deleteDocument(namespace, key) {
      return tx(
        [`doc:${namespace}:${key}`],
        async (q) => (await q("DELETE FROM documents WHERE namespace = ? AND doc_key = ?", [namespace, key])).count > 0,
      );
    },

    async listDocuments<T>(namespace: string, prefix = "") {
      const rows = await query<DocRow>(
        'SELECT * FROM documents WHERE namespace = ? AND substr(doc_key, 1, ?) = ? ORDER BY doc_key COLLATE "C"',
        [namespace, prefix.length, prefix],
      );
      return rows.map((row) => docFromRow<T>(row));
    },

    async listPublished(target, kind) {
      const rows =
        kind === undefined
          ? await query<PublishedRow>(
              'SELECT * FROM published WHERE target = ? ORDER BY kind COLLATE "C", item_key COLLATE "C"',
              [target],
            )
          : await query<PublishedRow>(
              'SELECT * FROM published WHERE target = ? AND kind = ? ORDER BY item_key COLLATE "C"',
              [target, kind],
            );
      return rows.map(publishedFromRow);
    },

    async savePublished(item) {
      await tx([], (q) =>
        q(
          `INSERT INTO published (target, kind, item_key, remote_id, hash, info, updated) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (target, kind, item_key) DO UPDATE SET remote_id = excluded.remote_id, hash = excluded.hash,
            info = excluded.info, updated = excluded.updated`,
          [item.target, item.kind, item.key, item.remoteId, item.hash, JSON.stringify(item.info), nowIso()],
        ),
      );
    },

    async deletePublished(target, kind, key) {
      return tx(
        [],
        async (q) =>
          (await q("DELETE FROM published WHERE target = ? AND kind = ? AND item_key = ?", [target, kind, key])).count >
          0,
      );
    },

    async addConfigVersion(version) {
      return tx(["config_versions"], async (q): Promise<ConfigVersion> => {
        const [row] = (await q("SELECT MAX(id) AS id FROM config_versions")).rows as { id: number | null }[];
        const next = newConfigVersion(row?.id, version);
        await q(INSERT_CONFIG_VERSION_SQL, next.values);
        // delivered on COMMIT: every process following the configuration (watchConfigVersions) catches up
        await q("SELECT pg_notify(?, ?)", [CONFIG_CHANNEL, String(next.record.id)]);
        return next.record;
      });
    },

    callLimiter(name, limits) {
      const key = JSON.stringify([name, limits.concurrency, limits.perMinute ?? null]);
      let limiter = limiters.get(key);
      if (!limiter) {
        limiter = createPgCallLimiter(
          // the store's migrations first: they create the limiter's log table
          async () => {
            await pool();
            return typeof opts.url === "string" ? opts.url : await opts.url();
          },
          name,
          limits,
        );
        limiters.set(key, limiter);
      }
      return limiter;
    },

    watchConfigVersions(onChange) {
      let listener: PgListener | undefined;
      let closed = false;
      const started = (async () => {
        const url = typeof opts.url === "string" ? opts.url : await opts.url();
        if (closed) return;
        listener = listenPg({
          url,
          channels: [CONFIG_CHANNEL],
          applicationName: "siteloom-config-listen",
          onNotify: (_channel, payload) => onChange(Number(payload) || undefined),
          onListening: () => onChange(undefined),
        });
      })().catch(() => undefined);
      return {
        async close() {
          closed = true;
          await started;
          await listener?.close();
        },
      };
    },

    async getConfigVersion(id) {
      const [row] = await query<ConfigRow>("SELECT * FROM config_versions WHERE id = ?", [id]);
      return row ? configFromRow(row) : undefined;
    },

    async listConfigVersions(options = {}) {
      const list = listConfigVersionsQuery(options);
      return (await query<ConfigRow>(list.sql, list.values)).map(configFromRow);
    },

    async latestConfigVersion(env) {
      const [latest] = await store.listConfigVersions({ ...(env === undefined ? {} : { env }), limit: 1 });
      return latest;
    },

    async createToken(token) {
      const next = newToken(token);
      try {
        await tx([], (q) => q(INSERT_TOKEN_SQL, next.values));
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw tokenExistsError(token.name, error);
        throw error;
      }
      return next.record;
    },

    async getToken(name) {
      const [row] = await query<TokenRow>("SELECT * FROM tokens WHERE name = ?", [name]);
      return row ? tokenFromRow(row) : undefined;
    },

    async findTokenByHash(hash) {
      const [row] = await query<TokenRow>("SELECT * FROM tokens WHERE hash = ?", [hash]);
      return row ? tokenFromRow(row) : undefined;
    },

    async listTokens() {
      return (await query<TokenRow>('SELECT * FROM tokens ORDER BY name COLLATE "C"')).map(tokenFromRow);
    },

    async revokeToken(name, time) {
      return tx(
        [],
        async (q) =>
          (await q("UPDATE tokens SET revoked = COALESCE(revoked, ?) WHERE name = ?", [time ?? nowIso(), name])).count >
          0,
      );
    },

    async touchToken(name, time) {
      await tx([], (q) => q("UPDATE tokens SET last_used = ? WHERE name = ?", [time ?? nowIso(), name]));
    },

    async deleteToken(name) {
      return tx([], async (q) => (await q("DELETE FROM tokens WHERE name = ?", [name])).count > 0);
    },

    async acquireLock(lock, isStale) {
      // The advisory lock on the name makes "read the holder, then take it" one step for every machine, including
      // the first acquisition, when there is no row yet to lock with SELECT … FOR UPDATE.
      return tx([`lock:${lock.name}`], async (q) => {
        const [row] = (await q("SELECT * FROM locks WHERE name = ?", [lock.name])).rows as LockRecord[];
        if (row && !isStale(row)) return { acquired: false as const, holder: row };
        await q(UPSERT_LOCK_SQL, lockRowValues(lock));
        return { acquired: true as const, previous: row };
      });
    },

    async heartbeatLock(name, owner, leaseMs) {
      const renew = heartbeatLockQuery(name, owner, leaseMs);
      return tx([`lock:${name}`], async (q) => (await q(renew.sql, renew.values)).count > 0);
    },

    async releaseLock(name, owner) {
      if (closed) return;
      await tx([`lock:${name}`], (q) => q("DELETE FROM locks WHERE name = ? AND owner = ?", [name, owner]));
    },

    async getLock(name) {
      const [row] = await query<LockRecord>("SELECT * FROM locks WHERE name = ?", [name]);
      return row;
    },

    async listLocks() {
      return query<LockRecord>('SELECT * FROM locks ORDER BY name COLLATE "C"');
    },

    async reserveBudget(reservation, options) {
      // One call of siteloom_reserve_budget (migration 5), under the month lock. Abandoned reservations only matter
      // when the call does not fit: so it is first tried counting every held one (one round trip, the usual case),
      // and only when refused are the held ones read, those found stale decided here (isStale is code; a stale one
      // stays stale, so deciding before the lock is safe), and the call made again dropping them.
      const record = newReservation(reservation);
      const reserve = (stale: string[]) =>
        write<{ granted: boolean; settled_usd: number; reserved_usd: number }>(
          "SELECT * FROM siteloom_reserve_budget(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          [stale, options.maxMonthlyUsd ?? null, ...reservationRowValues(record)],
          "siteloom_reserve",
        );
      let [row] = await reserve([]);
      if (!row?.granted) {
        const held = await query<ReservationRow>(MONTH_RESERVATIONS_SQL, [reservation.month]);
        const stale = held.filter((r) => options.isStale(reservationFromRow(r))).map((r) => r.id);
        if (stale.length > 0) [row] = await reserve(stale);
      }
      const spend = { settledUsd: roundUsd(row?.settled_usd ?? 0), reservedUsd: roundUsd(row?.reserved_usd ?? 0) };
      return row?.granted
        ? { granted: true as const, reservation: record, ...spend }
        : { granted: false as const, ...spend };
    },

    async settleBudget(reservationId, entry, keep) {
      // One statement, so one commit: a reserver's single-snapshot sums (migration 5) see both the reservation gone
      // and the cost recorded, or neither; the kept answer commits with them.
      const kept = keep === undefined ? "" : `, kept AS (${UPSERT_KEPT_SQL})`;
      await write(
        `WITH dropped AS (DELETE FROM budget_reservations WHERE id = ?)${kept} ${INSERT_COST_SQL}`,
        [reservationId ?? null, ...(keep === undefined ? [] : keptRowValues(keep)), ...costRowValues(entry)],
        keep === undefined ? "siteloom_settle" : "siteloom_settle_keep",
      );
    },

    async releaseBudget(reservationId) {
      if (closed) return;
      // idempotent: retried like a read when the connection is lost
      const p = await pool();
      await _retrying(opts.reconnectMs, location, () =>
        p.query(_statement("DELETE FROM budget_reservations WHERE id = ?", [reservationId], "siteloom_release")),
      );
    },

    async heartbeatBudget(owner) {
      return tx(
        [],
        async (q) => (await q("UPDATE budget_reservations SET heartbeat = ? WHERE owner = ?", [nowIso(), owner])).count,
      );
    },

    async budgetSpend(month, isStale) {
      const held = await query<ReservationRow>(MONTH_RESERVATIONS_SQL, [month]);
      const reservedUsd = held
        .filter((row) => !isStale?.(reservationFromRow(row)))
        .reduce((sum, r) => sum + r.amount_usd, 0);
      const [row] = await query<{ usd: number }>(SETTLED_SQL, [month]);
      return { settledUsd: roundUsd(row?.usd ?? 0), reservedUsd: roundUsd(reservedUsd) };
    },

    async listCosts(filter = {}) {
      const list = listCostsQuery(filter, ' COLLATE "C"');
      return (await query<CostRow>(list.sql, list.values)).map(costFromRow);
    },

    async importCosts(source, entries) {
      return tx([`cost-imports:${source}`], async (q) => {
        if ((await q(COST_IMPORT_SEEN_SQL, [source])).count > 0) return 0;
        for (const entry of entries) await q(INSERT_COST_SQL, costRowValues(entry));
        await q(COST_IMPORT_DONE_SQL, [source, JSON.stringify({ entries: entries.length }), nowIso()]);
        return entries.length;
      });
    },

    async enqueueAlert(delivery) {
      return tx([], async (q) => (await q(INSERT_ALERT_SQL, alertRowValues(delivery))).count > 0);
    },

    async claimAlerts(owner, options) {
      const due = options.now ?? nowIso();
      const now = nowIso();
      const until = new Date(Date.now() + options.leaseMs).toISOString();
      const isStale = options.isStale ?? (() => false);
      // one claimer at a time, as SQLite's IMMEDIATE transaction does
      return tx(["alert-deliveries"], async (q) => {
        const { rows } = await q(
          `SELECT * FROM alert_deliveries WHERE status = 'pending' AND next_attempt <= ? COLLATE "C"
            ORDER BY created COLLATE "C", id COLLATE "C"`,
          [due],
        );
        const claimed = (rows as AlertRow[])
          .filter((r) => r.claim_until === null || r.claim_until < now || isStale(r.claim_owner ?? ""))
          .slice(0, options.limit);
        for (const row of claimed) {
          await q("UPDATE alert_deliveries SET claim_owner = ?, claim_until = ? WHERE id = ?", [owner, until, row.id]);
        }
        return claimed.map(alertFromRow);
      });
    },

    async finishAlert(id, outcome) {
      const finish = finishAlertQuery(id, outcome);
      await tx([], (q) => q(finish.sql, finish.values));
    },

    async listAlerts(options = {}) {
      const list = listAlertsQuery(options, ' COLLATE "C"');
      return (await query<AlertRow>(list.sql, list.values)).map(alertFromRow);
    },

    async countAlerts(status) {
      const where = status ? "WHERE status = ?" : "";
      const [row] = await query<{ n: string | number }>(
        `SELECT COUNT(*) AS n FROM alert_deliveries ${where}`,
        status ? [status] : [],
      );
      return Number(row?.n ?? 0);
    },

    async createSession(session) {
      await tx([], async (q) => {
        await q('DELETE FROM console_sessions WHERE expires < ? COLLATE "C"', [nowIso()]);
        await q("INSERT INTO console_sessions (id, token_hash, csrf, created, expires) VALUES (?, ?, ?, ?, ?)", [
          session.id,
          session.tokenHash,
          session.csrf,
          session.created,
          session.expires,
        ]);
      });
    },

    async getSession(id, now) {
      const [row] = await query<ConsoleSessionRecord>(
        'SELECT id, token_hash AS "tokenHash", csrf, created, expires FROM console_sessions WHERE id = ? AND expires >= ? COLLATE "C"',
        [id, now ?? nowIso()],
      );
      return row;
    },

    async touchSession(id, expires) {
      return tx(
        [],
        async (q) => (await q("UPDATE console_sessions SET expires = ? WHERE id = ?", [expires, id])).count > 0,
      );
    },

    async deleteSession(id) {
      return tx([], async (q) => (await q("DELETE FROM console_sessions WHERE id = ?", [id])).count > 0);
    },

    async appendAudit(seal) {
      // one appender at a time on every machine: the chain's last entry is read and extended under one lock
      return tx([AUDIT_LOCK], async (q) => {
        const [last] = (await q(LAST_AUDIT_SQL)).rows as StoredAuditEntry[];
        const next = sealAudit(last, seal);
        await q(INSERT_AUDIT_SQL, next.values);
        await q(UPSERT_KEPT_SQL, keptRowValues(next.head));
        return next.entry;
      });
    },

    async listAudit(options = {}) {
      return query<StoredAuditEntry>(LIST_AUDIT_SQL, [options.afterSeq ?? 0, options.limit ?? ALL_ROWS]);
    },

    async schemaVersion() {
      const [row] = await query<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations");
      return row?.v ?? 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...limiters.values()].map((l) => l.close()));
      const pending = ready;
      ready = undefined;
      const p = await pending?.catch(() => undefined);
      await p?.end();
    },
  };
  return store;
}

// --- internal ---

type TxQuery = (sql: string, params?: unknown[]) => Promise<{ rows: unknown[]; count: number }>;

const UNIQUE_VIOLATION = "23505";

/** The NOTIFY channel of recorded configuration versions (payload: the version's id). */
const CONFIG_CHANNEL = "siteloom_config_versions";

/** Runs `work`, and again after a pause while it fails because the server cannot be reached, for up to `limitMs`. */
async function _retrying<T>(limitMs: number, location: string, work: () => Promise<T>): Promise<T> {
  // the usual case, a server that answers, costs no retry machinery
  try {
    return await work();
  } catch (error) {
    if (!isConnectionError(error)) throw error;
  }
  const deadline = Date.now() + limitMs;
  try {
    return await runWithRetry(work, {
      retries: Number.MAX_SAFE_INTEGER,
      baseMs: 100,
      maxMs: 2_000,
      classify: (error) => ({ retry: isConnectionError(error) && Date.now() < deadline }),
    });
  } catch (error) {
    if (!isConnectionError(error)) throw error;
    throw new SiteloomError(
      "ERR_STORE",
      `cannot reach the PostgreSQL state store ${location}: ${(error as Error).message}; check that the server is up and store.url is right`,
      { cause: error },
    );
  }
}

/**
 * A statement for node-postgres; `name` makes it a prepared statement of each connection (parsed and planned once
 * per connection, then only bound and run): used for the budget's hot path only, whose statements return a fixed
 * shape (a prepared `SELECT *` would fail once a migration adds a column).
 */
function _statement(sql: string, values: unknown[], name?: string): pg.QueryConfig {
  return name === undefined ? { text: _numbered(sql), values } : { name, text: _numbered(sql), values };
}

/** `?` placeholders (the SQL shared with SQLite) as PostgreSQL's `$1, $2…`; no statement has `?` inside quotes. */
const NUMBERED = new Map<string, string>();
function _numbered(sql: string): string {
  let out = NUMBERED.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    NUMBERED.set(sql, out);
  }
  return out;
}

/** BIGINT (bytes, token counts) as numbers like SQLite gives them; every other type as node-postgres parses it. */
function _typeParser(pgModule: typeof pg) {
  return (oid: number, format?: string): ((value: string) => unknown) => {
    if (oid === pgModule.types.builtins.INT8) return (value: string) => Number(value);
    return pgModule.types.getTypeParser(oid, (format ?? "text") as "text");
  };
}

async function _migrate(pool: pg.Pool): Promise<void> {
  // Two processes opening a new database at once must not both apply the same migration.
  await withPgTransaction(pool, { locks: [MIGRATION_LOCK] }, async (client) => {
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)",
    );
    const { rows } = await client.query<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations");
    const current = rows[0]?.v ?? 0;
    if (current > LATEST_SCHEMA_VERSION) {
      throw new SiteloomError(
        "ERR_STORE",
        `the state store has schema version ${current}, newer than this siteloom knows (${LATEST_SCHEMA_VERSION}); upgrade siteloom`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      for (const statement of migration.statements) {
        const sql = statementSql(statement, "postgres");
        if (sql !== undefined) await client.query(sql);
      }
      await client.query("INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)", [
        migration.version,
        migration.name,
        nowIso(),
      ]);
    }
  });
}
