import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { SiteloomError } from "../errors.ts";
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from "./migrations.ts";
import type {
  BudgetReservation,
  ConfigVersion,
  CostEntry,
  LockRecord,
  PublishedItem,
  RunRecord,
  RunStepRecord,
  StateStore,
  StoredDocument,
  TokenRecord,
} from "./types.ts";

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
      return row ? _run(row) : undefined;
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
      return rows[0] ? _run(rows[0]) : undefined;
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
        // ids start with the UTC start time, so "older than this page" is "id sorts before"
        where.push("id < ?");
        values.push(options.before);
      }
      const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY started DESC, id DESC LIMIT ?`;
      return (stmt(sql).all(...values, options.limit ?? 50) as RunRow[]).map(_run);
    },

    async saveStep(runId, site, step, patch) {
      const write = db.transaction(() => {
        const existing = stmt("SELECT * FROM run_steps WHERE run_id = ? AND site = ? AND step = ?").get(
          runId,
          site,
          step,
        ) as StepRow | undefined;
        const base: RunStepRecord = existing
          ? _step(existing)
          : {
              runId,
              site,
              step,
              position: 0,
              status: "pending",
              started: undefined,
              finished: undefined,
              counts: {},
              bytes: 0,
              costUsd: 0,
              summary: undefined,
              plan: [],
              error: undefined,
              errorCode: undefined,
            };
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
        _step,
      );
    },

    async getDocument<T>(namespace: string, key: string) {
      const row = stmt("SELECT * FROM documents WHERE namespace = ? AND doc_key = ?").get(namespace, key) as
        | DocRow
        | undefined;
      return row ? _doc<T>(row) : undefined;
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
        const doc: StoredDocument<T> = { namespace, key, value, version: current + 1, updated: _now() };
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
      return rows.map((row) => _doc<T>(row));
    },

    async listPublished(target, kind) {
      const rows = (
        kind === undefined
          ? stmt("SELECT * FROM published WHERE target = ? ORDER BY kind, item_key").all(target)
          : stmt("SELECT * FROM published WHERE target = ? AND kind = ? ORDER BY item_key").all(target, kind)
      ) as PublishedRow[];
      return rows.map(
        (row): PublishedItem => ({
          target: row.target,
          kind: row.kind,
          key: row.item_key,
          remoteId: row.remote_id,
          hash: row.hash,
          info: JSON.parse(row.info) as Record<string, unknown>,
          updated: row.updated,
        }),
      );
    },

    async savePublished(item) {
      stmt(
        `INSERT INTO published (target, kind, item_key, remote_id, hash, info, updated) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (target, kind, item_key) DO UPDATE SET remote_id = excluded.remote_id, hash = excluded.hash,
          info = excluded.info, updated = excluded.updated`,
      ).run(item.target, item.kind, item.key, item.remoteId, item.hash, JSON.stringify(item.info), _now());
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
          time: version.time ?? _now(),
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
      return row ? _config(row) : undefined;
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
      return (stmt(sql).all(...values, options.limit ?? 50) as ConfigRow[]).map(_config);
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
        created: token.created ?? _now(),
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
      return row ? _token(row) : undefined;
    },

    async findTokenByHash(hash) {
      const row = stmt("SELECT * FROM tokens WHERE hash = ?").get(hash) as TokenRow | undefined;
      return row ? _token(row) : undefined;
    },

    async listTokens() {
      return (stmt("SELECT * FROM tokens ORDER BY name").all() as TokenRow[]).map(_token);
    },

    async revokeToken(name, time) {
      return (
        stmt("UPDATE tokens SET revoked = COALESCE(revoked, ?) WHERE name = ?").run(time ?? _now(), name).changes > 0
      );
    },

    async touchToken(name, time) {
      stmt("UPDATE tokens SET last_used = ? WHERE name = ?").run(time ?? _now(), name);
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
          if (options.isStale(_reservation(row))) stmt("DELETE FROM budget_reservations WHERE id = ?").run(row.id);
          else reservedUsd += row.amount_usd;
        }
        const settledUsd = _settled(stmt, reservation.month);
        const spend = { settledUsd: _usd(settledUsd), reservedUsd: _usd(reservedUsd) };
        if (
          options.maxMonthlyUsd !== undefined &&
          settledUsd + reservedUsd + reservation.amountUsd > options.maxMonthlyUsd + 1e-9
        ) {
          return { granted: false as const, ...spend };
        }
        const now = _now();
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
      return stmt("UPDATE budget_reservations SET heartbeat = ? WHERE owner = ?").run(_now(), owner).changes;
    },

    async budgetSpend(month, isStale) {
      const held = stmt("SELECT * FROM budget_reservations WHERE month = ?").all(month) as ReservationRow[];
      const reservedUsd = held.filter((row) => !isStale?.(_reservation(row))).reduce((sum, r) => sum + r.amount_usd, 0);
      return { settledUsd: _usd(_settled(stmt, month)), reservedUsd: _usd(reservedUsd) };
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
      return (stmt(sql).all(...values) as CostRow[]).map(_cost);
    },

    async importCosts(source, entries) {
      return db
        .transaction(() => {
          if (stmt("SELECT 1 FROM documents WHERE namespace = 'cost-imports' AND doc_key = ?").get(source)) return 0;
          for (const entry of entries) _insertCost(stmt, entry);
          stmt(
            "INSERT INTO documents (namespace, doc_key, value, version, updated) VALUES ('cost-imports', ?, ?, 1, ?)",
          ).run(source, JSON.stringify({ entries: entries.length }), _now());
          return entries.length;
        })
        .immediate();
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

/** A new run id: UTC start time plus a random suffix, so ids sort by time and never collide in practice. */
export function newRunId(date = new Date()): string {
  const iso = date.toISOString();
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

// --- internal ---

interface RunRow {
  id: string;
  status: RunRecord["status"];
  env: string;
  sites: string;
  steps: string;
  dry_run: number;
  started: string;
  finished: string | null;
  actor: string;
  host: string;
  pid: number;
  cost_usd: number;
  error: string | null;
  options: string;
}

interface StepRow {
  run_id: string;
  site: string;
  step: string;
  position: number;
  status: RunStepRecord["status"];
  started: string | null;
  finished: string | null;
  counts: string;
  bytes: number;
  cost_usd: number;
  summary: string | null;
  plan: string;
  error: string | null;
  error_code: string | null;
}

interface PublishedRow {
  target: string;
  kind: string;
  item_key: string;
  remote_id: string;
  hash: string;
  info: string;
  updated: string;
}

interface DocRow {
  namespace: string;
  doc_key: string;
  value: string;
  version: number;
  updated: string;
}

interface ConfigRow {
  id: number;
  time: string;
  actor: string;
  source: string;
  env: string | null;
  diff: string;
  snapshot: string;
}

interface TokenRow {
  name: string;
  role: string;
  envs: string;
  hash: string;
  created: string;
  expires: string | null;
  revoked: string | null;
  last_used: string | null;
}

interface ReservationRow {
  id: string;
  month: string;
  site: string;
  topic_id: string;
  amount_usd: number;
  owner: string;
  pid: number;
  host: string;
  created: string;
  heartbeat: string;
}

interface CostRow {
  id: string;
  time: string;
  month: string;
  site: string;
  topic: string;
  topic_id: string;
  provider: string;
  model: string;
  step: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  ok: number;
}

function _reservation(row: ReservationRow): BudgetReservation {
  return {
    id: row.id,
    month: row.month,
    site: row.site,
    topicId: row.topic_id,
    amountUsd: row.amount_usd,
    owner: row.owner,
    pid: row.pid,
    host: row.host,
    created: row.created,
    heartbeat: row.heartbeat,
  };
}

function _cost(row: CostRow): CostEntry {
  return {
    time: row.time,
    site: row.site,
    topic: row.topic,
    topicId: row.topic_id,
    provider: row.provider,
    model: row.model,
    step: row.step,
    inputTokens: row.input_tokens,
    outputTokens: row.output_tokens,
    costUsd: row.cost_usd,
    ok: row.ok === 1,
  };
}

function _insertCost(stmt: (sql: string) => Database.Statement, entry: CostEntry): void {
  stmt(
    `INSERT INTO cost_ledger (id, time, month, site, topic, topic_id, provider, model, step, input_tokens,
      output_tokens, cost_usd, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    randomBytes(8).toString("hex"),
    entry.time,
    entry.time.slice(0, 7),
    entry.site,
    entry.topic,
    entry.topicId,
    entry.provider,
    entry.model,
    entry.step,
    entry.inputTokens,
    entry.outputTokens,
    entry.costUsd,
    entry.ok ? 1 : 0,
  );
}

function _settled(stmt: (sql: string) => Database.Statement, month: string): number {
  return (
    stmt("SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM cost_ledger WHERE month = ?").get(month) as { usd: number }
  ).usd;
}

/** USD rounded to a millionth (sums of doubles drift in the last digits). */
function _usd(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function _now(): string {
  return new Date().toISOString();
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
      for (const sql of migration.statements) db.exec(sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        _now(),
      );
    }
  }).immediate();
}

function _opt(value: string | null): string | undefined {
  return value ?? undefined;
}

function _run(row: RunRow): RunRecord {
  return {
    id: row.id,
    status: row.status,
    env: row.env,
    sites: JSON.parse(row.sites),
    steps: JSON.parse(row.steps),
    dryRun: row.dry_run === 1,
    started: row.started,
    finished: _opt(row.finished),
    actor: row.actor,
    host: row.host,
    pid: row.pid,
    costUsd: row.cost_usd,
    error: _opt(row.error),
    options: JSON.parse(row.options),
  };
}

function _step(row: StepRow): RunStepRecord {
  return {
    runId: row.run_id,
    site: row.site,
    step: row.step,
    position: row.position,
    status: row.status,
    started: _opt(row.started),
    finished: _opt(row.finished),
    counts: JSON.parse(row.counts),
    bytes: row.bytes,
    costUsd: row.cost_usd,
    summary: _opt(row.summary),
    plan: JSON.parse(row.plan),
    error: _opt(row.error),
    errorCode: _opt(row.error_code),
  };
}

function _doc<T>(row: DocRow): StoredDocument<T> {
  return {
    namespace: row.namespace,
    key: row.doc_key,
    value: JSON.parse(row.value) as T,
    version: row.version,
    updated: row.updated,
  };
}

function _config(row: ConfigRow): ConfigVersion {
  return {
    id: row.id,
    time: row.time,
    actor: row.actor,
    source: row.source,
    env: _opt(row.env),
    diff: JSON.parse(row.diff),
    snapshot: JSON.parse(row.snapshot),
  };
}

function _token(row: TokenRow): TokenRecord {
  return {
    name: row.name,
    role: row.role,
    envs: JSON.parse(row.envs),
    hash: row.hash,
    created: row.created,
    expires: _opt(row.expires),
    revoked: _opt(row.revoked),
    lastUsed: _opt(row.last_used),
  };
}
