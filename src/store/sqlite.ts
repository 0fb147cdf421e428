import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SiteloomError } from "../errors.ts";
import { LATEST_SCHEMA_VERSION, MIGRATIONS, statementSql } from "./migrations.ts";
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
  ConfigVersion,
  ConsoleSessionRecord,
  CostEntry,
  LockRecord,
  RunStepRecord,
  StateStore,
  StoredAuditEntry,
  StoredDocument,
} from "./types.ts";

export { newRunId };

export interface SqliteStoreOptions {
  /** Database file, or `:memory:`. Its folder is created (mode 0700) when missing. */
  path: string;
  /** How long a write waits for another process's transaction. @default 10000 */
  busyTimeoutMs?: number;
  /** Open without applying migrations (read-only inspection); fails if the schema is older. @default false */
  readonly?: boolean;
}

const DEFAULTS = { busyTimeoutMs: 10_000, readonly: false };

/** Opens (creating and migrating when needed) the SQLite state store. */
export function createSqliteStore(options: SqliteStoreOptions): StateStore {
  const opts = { ...DEFAULTS, ...options };
  if (opts.path !== ":memory:") mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
  let db: Database.Database;
  try {
    db = new Database(opts.path, { timeout: opts.busyTimeoutMs });
    if (opts.path !== ":memory:") db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    db.pragma("synchronous = NORMAL");
    _migrate(db);
  } catch (error) {
    if (error instanceof SiteloomError) throw error;
    throw new SiteloomError("ERR_STORE", `cannot open the state store ${opts.path}: ${(error as Error).message}`, {
      cause: error,
    });
  }

  const stmt = _statementCache(db);

  const store: StateStore = {
    kind: "sqlite",
    location: opts.path,

    async createRun(run) {
      const record = newRunRecord(run);
      // Generated ids carry a short random suffix; on the rare collision (many runs in one second), draw again.
      for (let attempt = 0; run.id === undefined && attempt < 20; attempt++) {
        if (!stmt("SELECT 1 FROM runs WHERE id = ?").get(record.id)) break;
        record.id = newRunId();
      }
      stmt(INSERT_RUN_SQL).run(...runRowValues(record));
      return record;
    },

    async updateRun(id, patch) {
      const update = updateRunQuery(id, patch);
      if (update) stmt(update.sql).run(...update.values);
    },

    async getRun(id) {
      const row = stmt("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
      return row ? runFromRow(row) : undefined;
    },

    async findRun(idOrPrefix) {
      const exact = await store.getRun(idOrPrefix);
      if (exact) return exact;
      const prefix = runPrefixQuery(idOrPrefix);
      const rows = stmt(prefix.sql).all(...prefix.values) as RunRow[];
      if (rows.length > 1) throw ambiguousRunError(idOrPrefix);
      return rows[0] ? runFromRow(rows[0]) : undefined;
    },

    async listRuns(options = {}) {
      const list = listRunsQuery(options);
      return (stmt(list.sql).all(...list.values) as RunRow[]).map(runFromRow);
    },

    async saveStep(runId, site, step, patch) {
      const write = db.transaction(() => {
        const existing = stmt("SELECT * FROM run_steps WHERE run_id = ? AND site = ? AND step = ?").get(
          runId,
          site,
          step,
        ) as StepRow | undefined;
        const base: RunStepRecord = existing ? stepFromRow(existing) : newStepRecord(runId, site, step);
        const next: RunStepRecord = { ...base, ...patch, runId, site, step };
        stmt(UPSERT_STEP_SQL).run(...stepRowValues(next));
        return next;
      });
      return write.immediate();
    },

    async listSteps(runId) {
      return (stmt("SELECT * FROM run_steps WHERE run_id = ? ORDER BY site, position").all(runId) as StepRow[]).map(
        stepFromRow,
      );
    },

    async getDocument<T>(namespace: string, key: string) {
      const row = stmt("SELECT * FROM documents WHERE namespace = ? AND doc_key = ?").get(namespace, key) as
        | DocRow
        | undefined;
      return row ? docFromRow<T>(row) : undefined;
    },

    async putDocument<T>(namespace: string, key: string, value: T, options: { expectedVersion?: number } = {}) {
      const write = db.transaction((): StoredDocument<T> => {
        const row = stmt("SELECT version FROM documents WHERE namespace = ? AND doc_key = ?").get(namespace, key) as
          | { version: number }
          | undefined;
        const current = row?.version ?? 0;
        checkDocumentVersion(namespace, key, current, options.expectedVersion);
        const doc: StoredDocument<T> = { namespace, key, value, version: current + 1, updated: nowIso() };
        stmt(UPSERT_DOCUMENT_SQL).run(namespace, key, JSON.stringify(value), doc.version, doc.updated);
        return doc;
      });
      return write.immediate();
    },

    async deleteDocument(namespace, key) {
      return stmt("DELETE FROM documents WHERE namespace = ? AND doc_key = ?").run(namespace, key).changes > 0;
    },

    async listDocuments<T>(namespace: string, prefix = "") {
      const rows = stmt(
        "SELECT * FROM documents WHERE namespace = ? AND substr(doc_key, 1, ?) = ? ORDER BY doc_key",
      ).all(namespace, prefix.length, prefix) as DocRow[];
      return rows.map((row) => docFromRow<T>(row));
    },

    async listPublished(target, kind) {
      const rows = (
        kind === undefined
          ? stmt("SELECT * FROM published WHERE target = ? ORDER BY kind, item_key").all(target)
          : stmt("SELECT * FROM published WHERE target = ? AND kind = ? ORDER BY item_key").all(target, kind)
      ) as PublishedRow[];
      return rows.map(publishedFromRow);
    },

    async savePublished(item) {
      stmt(
        `INSERT INTO published (target, kind, item_key, remote_id, hash, info, updated) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (target, kind, item_key) DO UPDATE SET remote_id = excluded.remote_id, hash = excluded.hash,
          info = excluded.info, updated = excluded.updated`,
      ).run(item.target, item.kind, item.key, item.remoteId, item.hash, JSON.stringify(item.info), nowIso());
    },

    async deletePublished(target, kind, key) {
      return (
        stmt("DELETE FROM published WHERE target = ? AND kind = ? AND item_key = ?").run(target, kind, key).changes > 0
      );
    },

    async addConfigVersion(version) {
      const write = db.transaction((): ConfigVersion => {
        const row = stmt("SELECT MAX(id) AS id FROM config_versions").get() as { id: number | null };
        const next = newConfigVersion(row.id, version);
        stmt(INSERT_CONFIG_VERSION_SQL).run(...next.values);
        return next.record;
      });
      return write.immediate();
    },

    async getConfigVersion(id) {
      const row = stmt("SELECT * FROM config_versions WHERE id = ?").get(id) as ConfigRow | undefined;
      return row ? configFromRow(row) : undefined;
    },

    async listConfigVersions(options = {}) {
      const list = listConfigVersionsQuery(options);
      return (stmt(list.sql).all(...list.values) as ConfigRow[]).map(configFromRow);
    },

    async latestConfigVersion(env) {
      const [latest] = await store.listConfigVersions({ ...(env === undefined ? {} : { env }), limit: 1 });
      return latest;
    },

    async createToken(token) {
      const next = newToken(token);
      try {
        stmt(INSERT_TOKEN_SQL).run(...next.values);
      } catch (error) {
        if ((error as { code?: string }).code?.startsWith("SQLITE_CONSTRAINT"))
          throw tokenExistsError(token.name, error);
        throw error;
      }
      return next.record;
    },

    async getToken(name) {
      const row = stmt("SELECT * FROM tokens WHERE name = ?").get(name) as TokenRow | undefined;
      return row ? tokenFromRow(row) : undefined;
    },

    async findTokenByHash(hash) {
      const row = stmt("SELECT * FROM tokens WHERE hash = ?").get(hash) as TokenRow | undefined;
      return row ? tokenFromRow(row) : undefined;
    },

    async listTokens() {
      return (stmt("SELECT * FROM tokens ORDER BY name").all() as TokenRow[]).map(tokenFromRow);
    },

    async revokeToken(name, time) {
      return (
        stmt("UPDATE tokens SET revoked = COALESCE(revoked, ?) WHERE name = ?").run(time ?? nowIso(), name).changes > 0
      );
    },

    async touchToken(name, time) {
      stmt("UPDATE tokens SET last_used = ? WHERE name = ?").run(time ?? nowIso(), name);
    },

    async deleteToken(name) {
      return stmt("DELETE FROM tokens WHERE name = ?").run(name).changes > 0;
    },

    async acquireLock(lock, isStale) {
      // IMMEDIATE takes the write lock before reading, so two processes cannot both see the lock free or stale.
      const attempt = db.transaction(() => {
        const row = stmt("SELECT * FROM locks WHERE name = ?").get(lock.name) as LockRecord | undefined;
        if (row && !isStale(row)) return { acquired: false as const, holder: row };
        stmt(UPSERT_LOCK_SQL).run(...lockRowValues(lock));
        return { acquired: true as const, previous: row };
      });
      return attempt.immediate();
    },

    async heartbeatLock(name, owner, leaseMs) {
      const renew = heartbeatLockQuery(name, owner, leaseMs);
      return stmt(renew.sql).run(...renew.values).changes > 0;
    },

    async releaseLock(name, owner) {
      // Runs synchronously up to here, so an exit handler that cannot await still releases the lock.
      if (db.open) stmt("DELETE FROM locks WHERE name = ? AND owner = ?").run(name, owner);
    },

    async getLock(name) {
      return stmt("SELECT * FROM locks WHERE name = ?").get(name) as LockRecord | undefined;
    },

    async listLocks() {
      return stmt("SELECT * FROM locks ORDER BY name").all() as LockRecord[];
    },

    async reserveBudget(reservation, options) {
      const attempt = db.transaction(() => {
        const held = stmt(MONTH_RESERVATIONS_SQL).all(reservation.month) as ReservationRow[];
        let reservedUsd = 0;
        for (const row of held) {
          if (options.isStale(reservationFromRow(row)))
            stmt("DELETE FROM budget_reservations WHERE id = ?").run(row.id);
          else reservedUsd += row.amount_usd;
        }
        const settledUsd = _settled(stmt, reservation.month);
        const spend = { settledUsd: roundUsd(settledUsd), reservedUsd: roundUsd(reservedUsd) };
        if (
          options.maxMonthlyUsd !== undefined &&
          settledUsd + reservedUsd + reservation.amountUsd > options.maxMonthlyUsd + 1e-9
        ) {
          return { granted: false as const, ...spend };
        }
        const record = newReservation(reservation);
        stmt(
          `INSERT INTO budget_reservations (id, month, site, topic_id, amount_usd, owner, pid, host, created, heartbeat)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(...reservationRowValues(record), record.heartbeat);
        return { granted: true as const, reservation: record, ...spend };
      });
      return attempt.immediate();
    },

    async settleBudget(reservationId, entry, keep) {
      db.transaction(() => {
        if (reservationId !== undefined) stmt("DELETE FROM budget_reservations WHERE id = ?").run(reservationId);
        _insertCost(stmt, entry);
        if (keep !== undefined) stmt(UPSERT_KEPT_SQL).run(...keptRowValues(keep));
      }).immediate();
    },

    async releaseBudget(reservationId) {
      if (db.open) stmt("DELETE FROM budget_reservations WHERE id = ?").run(reservationId);
    },

    async heartbeatBudget(owner) {
      return stmt("UPDATE budget_reservations SET heartbeat = ? WHERE owner = ?").run(nowIso(), owner).changes;
    },

    async budgetSpend(month, isStale) {
      const held = stmt(MONTH_RESERVATIONS_SQL).all(month) as ReservationRow[];
      const reservedUsd = held
        .filter((row) => !isStale?.(reservationFromRow(row)))
        .reduce((sum, r) => sum + r.amount_usd, 0);
      return { settledUsd: roundUsd(_settled(stmt, month)), reservedUsd: roundUsd(reservedUsd) };
    },

    async listCosts(filter = {}) {
      const list = listCostsQuery(filter, "");
      return (stmt(list.sql).all(...list.values) as CostRow[]).map(costFromRow);
    },

    async importCosts(source, entries) {
      return db
        .transaction(() => {
          if (stmt(COST_IMPORT_SEEN_SQL).get(source)) return 0;
          for (const entry of entries) _insertCost(stmt, entry);
          stmt(COST_IMPORT_DONE_SQL).run(source, JSON.stringify({ entries: entries.length }), nowIso());
          return entries.length;
        })
        .immediate();
    },

    async enqueueAlert(delivery) {
      return stmt(INSERT_ALERT_SQL).run(...alertRowValues(delivery)).changes > 0;
    },

    async claimAlerts(owner, options) {
      const due = options.now ?? nowIso();
      const now = nowIso();
      const until = new Date(Date.now() + options.leaseMs).toISOString();
      const isStale = options.isStale ?? (() => false);
      return db
        .transaction(() => {
          const rows = (
            stmt(
              `SELECT * FROM alert_deliveries WHERE status = 'pending' AND next_attempt <= ? ORDER BY created, id`,
            ).all(due) as AlertRow[]
          )
            .filter((r) => r.claim_until === null || r.claim_until < now || isStale(r.claim_owner ?? ""))
            .slice(0, options.limit);
          const claim = stmt("UPDATE alert_deliveries SET claim_owner = ?, claim_until = ? WHERE id = ?");
          for (const row of rows) claim.run(owner, until, row.id);
          return rows.map(alertFromRow);
        })
        .immediate();
    },

    async finishAlert(id, outcome) {
      const finish = finishAlertQuery(id, outcome);
      stmt(finish.sql).run(...finish.values);
    },

    async listAlerts(options = {}) {
      const list = listAlertsQuery(options, "");
      return (stmt(list.sql).all(...list.values) as AlertRow[]).map(alertFromRow);
    },

    async countAlerts(status) {
      const where = status ? "WHERE status = ?" : "";
      return (
        stmt(`SELECT COUNT(*) AS n FROM alert_deliveries ${where}`).get(...(status ? [status] : [])) as {
          n: number;
        }
      ).n;
    },

    async createSession(session) {
      db.transaction(() => {
        stmt("DELETE FROM console_sessions WHERE expires < ?").run(nowIso());
        stmt("INSERT INTO console_sessions (id, token_hash, csrf, created, expires) VALUES (?, ?, ?, ?, ?)").run(
          session.id,
          session.tokenHash,
          session.csrf,
          session.created,
          session.expires,
        );
      }).immediate();
    },

    async getSession(id, now) {
      return stmt(
        'SELECT id, token_hash AS "tokenHash", csrf, created, expires FROM console_sessions WHERE id = ? AND expires >= ?',
      ).get(id, now ?? nowIso()) as ConsoleSessionRecord | undefined;
    },

    async touchSession(id, expires) {
      return stmt("UPDATE console_sessions SET expires = ? WHERE id = ?").run(expires, id).changes > 0;
    },

    async deleteSession(id) {
      return stmt("DELETE FROM console_sessions WHERE id = ?").run(id).changes > 0;
    },

    async appendAudit(seal) {
      return db
        .transaction(() => {
          const next = sealAudit(stmt(LAST_AUDIT_SQL).get() as StoredAuditEntry | undefined, seal);
          stmt(INSERT_AUDIT_SQL).run(...next.values);
          stmt(UPSERT_KEPT_SQL).run(...keptRowValues(next.head));
          return next.entry;
        })
        .immediate();
    },

    async listAudit(options = {}) {
      return stmt(LIST_AUDIT_SQL).all(options.afterSeq ?? 0, options.limit ?? ALL_ROWS) as StoredAuditEntry[];
    },

    async schemaVersion() {
      return _currentVersion(db);
    },

    async close() {
      if (db.open) db.close();
    },
  };
  return store;
}

// --- internal ---

function _insertCost(stmt: (sql: string) => Database.Statement, entry: CostEntry): void {
  stmt(INSERT_COST_SQL).run(...costRowValues(entry));
}

function _settled(stmt: (sql: string) => Database.Statement, month: string): number {
  return (stmt(SETTLED_SQL).get(month) as { usd: number }).usd;
}

function _statementCache(db: Database.Database): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
}

function _currentVersion(db: Database.Database): number {
  const row = db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null };
  return row.v ?? 0;
}

function _migrate(db: Database.Database): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)",
  );
  // Re-read the version inside an IMMEDIATE transaction: two processes opening a new database at once must not both
  // apply the same migration.
  db.transaction(() => {
    const current = _currentVersion(db);
    if (current > LATEST_SCHEMA_VERSION) {
      throw new SiteloomError(
        "ERR_STORE",
        `the state store has schema version ${current}, newer than this siteloom knows (${LATEST_SCHEMA_VERSION}); upgrade siteloom`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      for (const statement of migration.statements) {
        const sql = statementSql(statement, "sqlite");
        if (sql !== undefined) db.exec(sql);
      }
      db.prepare("INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        nowIso(),
      );
    }
  }).immediate();
}
