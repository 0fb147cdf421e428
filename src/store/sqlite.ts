import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SiteloomError } from "../errors.ts";
import { LATEST_SCHEMA_VERSION, MIGRATIONS, statementSql } from "./migrations.ts";
import {
  type AlertRow,
  alertFromRow,
  type ConfigRow,
  type CostRow,
  configFromRow,
  costFromRow,
  costRowValues,
  type DocRow,
  docFromRow,
  INSERT_COST_SQL,
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
  stepFromRow,
  type TokenRow,
  tokenFromRow,
} from "./rows.ts";
import type {
  BudgetReservation,
  ConfigVersion,
  CostEntry,
  LockRecord,
  RunRecord,
  RunStepRecord,
  StateStore,
  StoredDocument,
  TokenRecord,
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
      const record: RunRecord = {
        ...run,
        id: run.id ?? newRunId(),
        status: "running",
        finished: undefined,
        costUsd: 0,
        error: undefined,
      };
      const insert = stmt(
        `INSERT INTO runs (id, status, env, sites, steps, dry_run, started, finished, actor, host, pid, cost_usd, error,
          options) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 0, NULL, ?)`,
      );
      // Generated ids carry a short random suffix; on the rare collision (many runs in one second), draw again.
      for (let attempt = 0; run.id === undefined && attempt < 20; attempt++) {
        if (!stmt("SELECT 1 FROM runs WHERE id = ?").get(record.id)) break;
        record.id = newRunId();
      }
      insert.run(
        record.id,
        record.status,
        record.env,
        JSON.stringify(record.sites),
        JSON.stringify(record.steps),
        record.dryRun ? 1 : 0,
        record.started,
        record.actor,
        record.host,
        record.pid,
        JSON.stringify(record.options),
      );
      return record;
    },

    async updateRun(id, patch) {
      const sets: string[] = [];
      const values: unknown[] = [];
      if (patch.status !== undefined) _set(sets, values, "status", patch.status);
      if ("finished" in patch) _set(sets, values, "finished", patch.finished ?? null);
      if (patch.costUsd !== undefined) _set(sets, values, "cost_usd", patch.costUsd);
      if ("error" in patch) _set(sets, values, "error", patch.error ?? null);
      if (sets.length === 0) return;
      stmt(`UPDATE runs SET ${sets.join(", ")} WHERE id = ?`).run(...values, id);
    },

    async getRun(id) {
      const row = stmt("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
      return row ? runFromRow(row) : undefined;
    },

    async findRun(idOrPrefix) {
      const exact = await store.getRun(idOrPrefix);
      if (exact) return exact;
      const rows = stmt("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 2").all(
        `${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
      ) as RunRow[];
      if (rows.length > 1) {
        throw new SiteloomError("ERR_USAGE", `run id "${idOrPrefix}" is ambiguous; give more characters`);
      }
      return rows[0] ? runFromRow(rows[0]) : undefined;
    },

    async listRuns(options = {}) {
      const where: string[] = [];
      const values: unknown[] = [];
      if (options.site !== undefined) {
        where.push("EXISTS (SELECT 1 FROM run_steps s WHERE s.run_id = runs.id AND s.site = ?)");
        values.push(options.site);
      }
      if (options.status !== undefined) {
        where.push("status = ?");
        values.push(options.status);
      }
      if (options.before !== undefined) {
        // keyset paging in the list's own order, so runs started in the same second are neither skipped nor repeated
        where.push("(started, id) < (SELECT started, id FROM runs WHERE id = ?)");
        values.push(options.before);
      }
      const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY started DESC, id DESC LIMIT ?`;
      return (stmt(sql).all(...values, options.limit ?? 50) as RunRow[]).map(runFromRow);
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
        stmt(
          `INSERT INTO run_steps (run_id, site, step, position, status, started, finished, counts, bytes, cost_usd,
            summary, plan, error, error_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, site, step) DO UPDATE SET position = excluded.position, status = excluded.status,
            started = excluded.started, finished = excluded.finished, counts = excluded.counts, bytes = excluded.bytes,
            cost_usd = excluded.cost_usd, summary = excluded.summary, plan = excluded.plan, error = excluded.error,
            error_code = excluded.error_code`,
        ).run(
          runId,
          site,
          step,
          next.position,
          next.status,
          next.started ?? null,
          next.finished ?? null,
          JSON.stringify(next.counts),
          next.bytes,
          next.costUsd,
          next.summary ?? null,
          JSON.stringify(next.plan),
          next.error ?? null,
          next.errorCode ?? null,
        );
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
        if (options.expectedVersion !== undefined && options.expectedVersion !== current) {
          throw new SiteloomError(
            "ERR_STORE_CONFLICT",
            `${namespace}/${key} changed meanwhile (version ${current}, expected ${options.expectedVersion}); reload and retry`,
          );
        }
        const doc: StoredDocument<T> = { namespace, key, value, version: current + 1, updated: nowIso() };
        stmt(
          `INSERT INTO documents (namespace, doc_key, value, version, updated) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (namespace, doc_key) DO UPDATE SET value = excluded.value, version = excluded.version,
            updated = excluded.updated`,
        ).run(namespace, key, JSON.stringify(value), doc.version, doc.updated);
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
        const record: ConfigVersion = {
          id: (row.id ?? 0) + 1,
          time: version.time ?? nowIso(),
          actor: version.actor,
          source: version.source,
          env: version.env,
          diff: version.diff,
          snapshot: version.snapshot,
        };
        stmt(
          "INSERT INTO config_versions (id, time, actor, source, env, diff, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ).run(
          record.id,
          record.time,
          record.actor,
          record.source,
          record.env ?? null,
          JSON.stringify(record.diff ?? null),
          JSON.stringify(record.snapshot ?? null),
        );
        return record;
      });
      return write.immediate();
    },

    async getConfigVersion(id) {
      const row = stmt("SELECT * FROM config_versions WHERE id = ?").get(id) as ConfigRow | undefined;
      return row ? configFromRow(row) : undefined;
    },

    async listConfigVersions(options = {}) {
      const where: string[] = [];
      const values: unknown[] = [];
      if (options.env !== undefined) {
        where.push("env = ?");
        values.push(options.env);
      }
      if (options.beforeId !== undefined) {
        where.push("id < ?");
        values.push(options.beforeId);
      }
      const sql = `SELECT * FROM config_versions ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
      return (stmt(sql).all(...values, options.limit ?? 50) as ConfigRow[]).map(configFromRow);
    },

    async latestConfigVersion(env) {
      const [latest] = await store.listConfigVersions({ ...(env === undefined ? {} : { env }), limit: 1 });
      return latest;
    },

    async createToken(token) {
      const record: TokenRecord = {
        name: token.name,
        role: token.role,
        envs: token.envs,
        hash: token.hash,
        created: token.created ?? nowIso(),
        expires: token.expires,
        revoked: undefined,
        lastUsed: undefined,
      };
      try {
        stmt(
          "INSERT INTO tokens (name, role, envs, hash, created, expires, revoked, last_used) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
        ).run(
          record.name,
          record.role,
          JSON.stringify(record.envs),
          record.hash,
          record.created,
          record.expires ?? null,
        );
      } catch (error) {
        if ((error as { code?: string }).code?.startsWith("SQLITE_CONSTRAINT")) {
          throw new SiteloomError("ERR_STORE_CONFLICT", `a token named "${token.name}" already exists`, {
            cause: error,
          });
        }
        throw error;
      }
      return record;
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
        const now = Date.now();
        const time = new Date(now).toISOString();
        stmt(
          `INSERT INTO locks (name, owner, pid, host, acquired, heartbeat, expires) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host,
            acquired = excluded.acquired, heartbeat = excluded.heartbeat, expires = excluded.expires`,
        ).run(lock.name, lock.owner, lock.pid, lock.host, time, time, new Date(now + lock.leaseMs).toISOString());
        return { acquired: true as const, previous: row };
      });
      return attempt.immediate();
    },

    async heartbeatLock(name, owner, leaseMs) {
      const now = Date.now();
      const expires = new Date(now + leaseMs).toISOString();
      return (
        stmt("UPDATE locks SET heartbeat = ?, expires = ? WHERE name = ? AND owner = ?").run(
          new Date(now).toISOString(),
          expires,
          name,
          owner,
        ).changes > 0
      );
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
        const held = stmt("SELECT * FROM budget_reservations WHERE month = ?").all(
          reservation.month,
        ) as ReservationRow[];
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
        const now = nowIso();
        const record: BudgetReservation = {
          ...reservation,
          id: randomBytes(8).toString("hex"),
          created: now,
          heartbeat: now,
        };
        stmt(
          `INSERT INTO budget_reservations (id, month, site, topic_id, amount_usd, owner, pid, host, created, heartbeat)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          record.id,
          record.month,
          record.site,
          record.topicId,
          record.amountUsd,
          record.owner,
          record.pid,
          record.host,
          record.created,
          record.heartbeat,
        );
        return { granted: true as const, reservation: record, ...spend };
      });
      return attempt.immediate();
    },

    async settleBudget(reservationId, entry) {
      db.transaction(() => {
        if (reservationId !== undefined) stmt("DELETE FROM budget_reservations WHERE id = ?").run(reservationId);
        _insertCost(stmt, entry);
      }).immediate();
    },

    async releaseBudget(reservationId) {
      if (db.open) stmt("DELETE FROM budget_reservations WHERE id = ?").run(reservationId);
    },

    async heartbeatBudget(owner) {
      return stmt("UPDATE budget_reservations SET heartbeat = ? WHERE owner = ?").run(nowIso(), owner).changes;
    },

    async budgetSpend(month, isStale) {
      const held = stmt("SELECT * FROM budget_reservations WHERE month = ?").all(month) as ReservationRow[];
      const reservedUsd = held
        .filter((row) => !isStale?.(reservationFromRow(row)))
        .reduce((sum, r) => sum + r.amount_usd, 0);
      return { settledUsd: roundUsd(_settled(stmt, month)), reservedUsd: roundUsd(reservedUsd) };
    },

    async listCosts(filter = {}) {
      const where: string[] = [];
      const values: unknown[] = [];
      if (filter.month !== undefined) {
        where.push("month = ?");
        values.push(filter.month);
      }
      if (filter.site !== undefined) {
        where.push("site = ?");
        values.push(filter.site);
      }
      const sql = `SELECT * FROM cost_ledger ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY time, id`;
      return (stmt(sql).all(...values) as CostRow[]).map(costFromRow);
    },

    async importCosts(source, entries) {
      return db
        .transaction(() => {
          if (stmt("SELECT 1 FROM documents WHERE namespace = 'cost-imports' AND doc_key = ?").get(source)) return 0;
          for (const entry of entries) _insertCost(stmt, entry);
          stmt(
            "INSERT INTO documents (namespace, doc_key, value, version, updated) VALUES ('cost-imports', ?, ?, 1, ?)",
          ).run(source, JSON.stringify({ entries: entries.length }), nowIso());
          return entries.length;
        })
        .immediate();
    },

    async enqueueAlert(delivery) {
      const created = delivery.created ?? nowIso();
      const result = stmt(
        `INSERT INTO alert_deliveries (id, alert_key, kind, channel, status, payload, created, attempts, next_attempt)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, 0, ?) ON CONFLICT (id) DO NOTHING`,
      ).run(
        delivery.id,
        delivery.alertKey,
        delivery.kind,
        delivery.channel,
        JSON.stringify(delivery.payload),
        created,
        created,
      );
      return result.changes > 0;
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
      if (outcome.sent) {
        stmt(
          `UPDATE alert_deliveries SET status = 'sent', sent = ?, last_error = NULL, claim_owner = NULL,
            claim_until = NULL WHERE id = ?`,
        ).run(outcome.time ?? nowIso(), id);
        return;
      }
      stmt(
        `UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt = ?, claim_owner = NULL,
          claim_until = NULL WHERE id = ? AND status = 'pending'`,
      ).run(outcome.error, outcome.nextAttempt, id);
    },

    async listAlerts(options = {}) {
      const where = options.status ? "WHERE status = ?" : "";
      const values: unknown[] = options.status ? [options.status] : [];
      return (
        stmt(`SELECT * FROM alert_deliveries ${where} ORDER BY created DESC, id DESC LIMIT ?`).all(
          ...values,
          options.limit ?? 100,
        ) as AlertRow[]
      ).map(alertFromRow);
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
  return (
    stmt("SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM cost_ledger WHERE month = ?").get(month) as { usd: number }
  ).usd;
}

function _set(sets: string[], values: unknown[], column: string, value: unknown): void {
  sets.push(`${column} = ?`);
  values.push(value);
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
