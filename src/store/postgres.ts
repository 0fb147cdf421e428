import { randomBytes } from "node:crypto";
import pg from "pg";
import { SiteloomError } from "../errors.ts";
import { runWithRetry } from "../retry.ts";
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
  LockRecord,
  RunRecord,
  RunStepRecord,
  StateStore,
  StoredDocument,
  TokenRecord,
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
      const created = new pg.Pool({
        connectionString: url,
        max: opts.poolSize,
        idleTimeoutMillis: 30_000,
        connectionTimeoutMillis: 5_000,
        types: { getTypeParser: _typeParser },
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
  const write = async <R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> => {
    const p = await pool();
    const client = await _retrying(opts.reconnectMs, location, () => p.connect());
    let broken = false;
    try {
      return (await client.query<R>(_numbered(sql), params)).rows;
    } catch (error) {
      broken = _isConnectionError(error);
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
    return _retrying(opts.reconnectMs, location, async () => {
      const client = await p.connect();
      let committing = false;
      let broken = false;
      try {
        await client.query("BEGIN");
        for (const key of [...keys].sort()) {
          await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [key]);
        }
        const q: TxQuery = async (sql, params = []) => {
          const result = await client.query(_numbered(sql), params);
          return { rows: result.rows, count: result.rowCount ?? 0 };
        };
        const value = await work(q);
        committing = true;
        await client.query("COMMIT");
        return value;
      } catch (error) {
        broken = _isConnectionError(error);
        if (!broken) await client.query("ROLLBACK").catch(() => undefined);
        if (committing && broken) {
          throw new SiteloomError(
            "ERR_STORE",
            `the connection to ${location} was lost while committing; the change may or may not have been saved`,
            { cause: error },
          );
        }
        throw error;
      } finally {
        client.release(broken);
      }
    });
  };

  const store: StateStore = {
    kind: "postgres",
    get location() {
      return location;
    },

    async createRun(run) {
      const record: RunRecord = {
        ...run,
        id: run.id ?? newRunId(),
        status: "running",
        finished: undefined,
        costUsd: 0,
        error: undefined,
      };
      return tx([], async (q) => {
        // Generated ids carry a short random suffix; on the rare collision (many runs in one second), draw again.
        for (let attempt = 0; ; attempt++) {
          const inserted = await q(
            `INSERT INTO runs (id, status, env, sites, steps, dry_run, started, finished, actor, host, pid, cost_usd,
              error, options) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 0, NULL, ?) ON CONFLICT (id) DO NOTHING`,
            [
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
            ],
          );
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
      const sets: string[] = [];
      const values: unknown[] = [];
      if (patch.status !== undefined) _set(sets, values, "status", patch.status);
      if ("finished" in patch) _set(sets, values, "finished", patch.finished ?? null);
      if (patch.costUsd !== undefined) _set(sets, values, "cost_usd", patch.costUsd);
      if ("error" in patch) _set(sets, values, "error", patch.error ?? null);
      if (sets.length === 0) return;
      await tx([], (q) => q(`UPDATE runs SET ${sets.join(", ")} WHERE id = ?`, [...values, id]));
    },

    async getRun(id) {
      const [row] = await query<RunRow>("SELECT * FROM runs WHERE id = ?", [id]);
      return row ? runFromRow(row) : undefined;
    },

    async findRun(idOrPrefix) {
      const exact = await store.getRun(idOrPrefix);
      if (exact) return exact;
      const rows = await query<RunRow>("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 2", [
        `${idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
      ]);
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
      return (await query<RunRow>(sql, [...values, options.limit ?? 50])).map(runFromRow);
    },

    async saveStep(runId, site, step, patch) {
      return tx([`step:${runId}:${site}:${step}`], async (q) => {
        const [existing] = (
          await q("SELECT * FROM run_steps WHERE run_id = ? AND site = ? AND step = ?", [runId, site, step])
        ).rows as StepRow[];
        const base: RunStepRecord = existing ? stepFromRow(existing) : newStepRecord(runId, site, step);
        const next: RunStepRecord = { ...base, ...patch, runId, site, step };
        await q(
          `INSERT INTO run_steps (run_id, site, step, position, status, started, finished, counts, bytes, cost_usd,
            summary, plan, error, error_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id, site, step) DO UPDATE SET position = excluded.position, status = excluded.status,
            started = excluded.started, finished = excluded.finished, counts = excluded.counts, bytes = excluded.bytes,
            cost_usd = excluded.cost_usd, summary = excluded.summary, plan = excluded.plan, error = excluded.error,
            error_code = excluded.error_code`,
          [
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
          ],
        );
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
        if (options.expectedVersion !== undefined && options.expectedVersion !== current) {
          throw new SiteloomError(
            "ERR_STORE_CONFLICT",
            `${namespace}/${key} changed meanwhile (version ${current}, expected ${options.expectedVersion}); reload and retry`,
          );
        }
        const doc: StoredDocument<T> = { namespace, key, value, version: current + 1, updated: nowIso() };
        await q(
          `INSERT INTO documents (namespace, doc_key, value, version, updated) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (namespace, doc_key) DO UPDATE SET value = excluded.value, version = excluded.version,
            updated = excluded.updated`,
          [namespace, key, JSON.stringify(value), doc.version, doc.updated],
        );
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
        const record: ConfigVersion = {
          id: (row?.id ?? 0) + 1,
          time: version.time ?? nowIso(),
          actor: version.actor,
          source: version.source,
          env: version.env,
          diff: version.diff,
          snapshot: version.snapshot,
        };
        await q(
          "INSERT INTO config_versions (id, time, actor, source, env, diff, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)",
          [
            record.id,
            record.time,
            record.actor,
            record.source,
            record.env ?? null,
            JSON.stringify(record.diff ?? null),
            JSON.stringify(record.snapshot ?? null),
          ],
        );
        return record;
      });
    },

    async getConfigVersion(id) {
      const [row] = await query<ConfigRow>("SELECT * FROM config_versions WHERE id = ?", [id]);
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
      return (await query<ConfigRow>(sql, [...values, options.limit ?? 50])).map(configFromRow);
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
        await tx([], (q) =>
          q(
            "INSERT INTO tokens (name, role, envs, hash, created, expires, revoked, last_used) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
            [
              record.name,
              record.role,
              JSON.stringify(record.envs),
              record.hash,
              record.created,
              record.expires ?? null,
            ],
          ),
        );
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          throw new SiteloomError("ERR_STORE_CONFLICT", `a token named "${token.name}" already exists`, {
            cause: error,
          });
        }
        throw error;
      }
      return record;
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
        const now = Date.now();
        const time = new Date(now).toISOString();
        await q(
          `INSERT INTO locks (name, owner, pid, host, acquired, heartbeat, expires) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host,
            acquired = excluded.acquired, heartbeat = excluded.heartbeat, expires = excluded.expires`,
          [lock.name, lock.owner, lock.pid, lock.host, time, time, new Date(now + lock.leaseMs).toISOString()],
        );
        return { acquired: true as const, previous: row };
      });
    },

    async heartbeatLock(name, owner, leaseMs) {
      const now = Date.now();
      return tx(
        [`lock:${name}`],
        async (q) =>
          (
            await q("UPDATE locks SET heartbeat = ?, expires = ? WHERE name = ? AND owner = ?", [
              new Date(now).toISOString(),
              new Date(now + leaseMs).toISOString(),
              name,
              owner,
            ])
          ).count > 0,
      );
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
      // Which held reservations are abandoned is decided here (isStale is code); a stale one stays stale, so deciding
      // before the lock is safe. The rest is one call of siteloom_reserve_budget (migration 5), under the month lock.
      const held = await query<ReservationRow>("SELECT * FROM budget_reservations WHERE month = ?", [
        reservation.month,
      ]);
      const stale = held.filter((row) => options.isStale(reservationFromRow(row))).map((row) => row.id);
      const now = nowIso();
      const record: BudgetReservation = {
        ...reservation,
        id: randomBytes(8).toString("hex"),
        created: now,
        heartbeat: now,
      };
      const [row] = await write<{ granted: boolean; settled_usd: number; reserved_usd: number }>(
        "SELECT * FROM siteloom_reserve_budget(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
          stale,
          options.maxMonthlyUsd ?? null,
          record.id,
          record.month,
          record.site,
          record.topicId,
          record.amountUsd,
          record.owner,
          record.pid,
          record.host,
          now,
        ],
      );
      const spend = { settledUsd: roundUsd(row?.settled_usd ?? 0), reservedUsd: roundUsd(row?.reserved_usd ?? 0) };
      return row?.granted
        ? { granted: true as const, reservation: record, ...spend }
        : { granted: false as const, ...spend };
    },

    async settleBudget(reservationId, entry) {
      // One statement, so one commit: a reserver's single-snapshot sums (migration 5) see both the reservation gone
      // and the cost recorded, or neither.
      await write(`WITH dropped AS (DELETE FROM budget_reservations WHERE id = ?) ${INSERT_COST_SQL}`, [
        reservationId ?? null,
        ...costRowValues(entry),
      ]);
    },

    async releaseBudget(reservationId) {
      if (closed) return;
      // idempotent: retried like a read when the connection is lost
      const p = await pool();
      await _retrying(opts.reconnectMs, location, () =>
        p.query(_numbered("DELETE FROM budget_reservations WHERE id = ?"), [reservationId]),
      );
    },

    async heartbeatBudget(owner) {
      return tx(
        [],
        async (q) => (await q("UPDATE budget_reservations SET heartbeat = ? WHERE owner = ?", [nowIso(), owner])).count,
      );
    },

    async budgetSpend(month, isStale) {
      const held = await query<ReservationRow>("SELECT * FROM budget_reservations WHERE month = ?", [month]);
      const reservedUsd = held
        .filter((row) => !isStale?.(reservationFromRow(row)))
        .reduce((sum, r) => sum + r.amount_usd, 0);
      const [row] = await query<{ usd: number }>(SETTLED_SQL, [month]);
      return { settledUsd: roundUsd(row?.usd ?? 0), reservedUsd: roundUsd(reservedUsd) };
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
      const sql = `SELECT * FROM cost_ledger ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY time COLLATE "C", id COLLATE "C"`;
      return (await query<CostRow>(sql, values)).map(costFromRow);
    },

    async importCosts(source, entries) {
      return tx([`cost-imports:${source}`], async (q) => {
        const done = await q("SELECT 1 FROM documents WHERE namespace = 'cost-imports' AND doc_key = ?", [source]);
        if (done.count > 0) return 0;
        for (const entry of entries) await q(INSERT_COST_SQL, costRowValues(entry));
        await q(
          "INSERT INTO documents (namespace, doc_key, value, version, updated) VALUES ('cost-imports', ?, ?, 1, ?)",
          [source, JSON.stringify({ entries: entries.length }), nowIso()],
        );
        return entries.length;
      });
    },

    async enqueueAlert(delivery) {
      const created = delivery.created ?? nowIso();
      return tx([], async (q) => {
        const result = await q(
          `INSERT INTO alert_deliveries (id, alert_key, kind, channel, status, payload, created, attempts, next_attempt)
            VALUES (?, ?, ?, ?, 'pending', ?, ?, 0, ?) ON CONFLICT (id) DO NOTHING`,
          [
            delivery.id,
            delivery.alertKey,
            delivery.kind,
            delivery.channel,
            JSON.stringify(delivery.payload),
            created,
            created,
          ],
        );
        return result.count > 0;
      });
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
      await tx([], (q) =>
        outcome.sent
          ? q(
              `UPDATE alert_deliveries SET status = 'sent', sent = ?, last_error = NULL, claim_owner = NULL,
                claim_until = NULL WHERE id = ?`,
              [outcome.time ?? nowIso(), id],
            )
          : q(
              `UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt = ?, claim_owner = NULL,
                claim_until = NULL WHERE id = ? AND status = 'pending'`,
              [outcome.error, outcome.nextAttempt, id],
            ),
      );
    },

    async listAlerts(options = {}) {
      const where = options.status ? "WHERE status = ?" : "";
      const values: unknown[] = options.status ? [options.status] : [];
      const rows = await query<AlertRow>(
        `SELECT * FROM alert_deliveries ${where} ORDER BY created COLLATE "C" DESC, id COLLATE "C" DESC LIMIT ?`,
        [...values, options.limit ?? 100],
      );
      return rows.map(alertFromRow);
    },

    async schemaVersion() {
      const [row] = await query<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations");
      return row?.v ?? 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      const pending = ready;
      ready = undefined;
      const p = await pending?.catch(() => undefined);
      await p?.end();
    },
  };
  return store;
}

/** The URL without its password, for messages and `store.location`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, "$1:****@");
}

// --- internal ---

type TxQuery = (sql: string, params?: unknown[]) => Promise<{ rows: unknown[]; count: number }>;

const UNIQUE_VIOLATION = "23505";

const SETTLED_SQL = "SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM cost_ledger WHERE month = ?";

/** Connection-level failures: the server went away or is starting/stopping. Anything else is a real error. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
]);

function _isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : "";
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(
    message,
  );
}

/** Runs `work`, and again after a pause while it fails because the server cannot be reached, for up to `limitMs`. */
async function _retrying<T>(limitMs: number, location: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + limitMs;
  try {
    return await runWithRetry(work, {
      retries: Number.MAX_SAFE_INTEGER,
      baseMs: 100,
      maxMs: 2_000,
      classify: (error) => ({ retry: _isConnectionError(error) && Date.now() < deadline }),
    });
  } catch (error) {
    if (!_isConnectionError(error)) throw error;
    throw new SiteloomError(
      "ERR_STORE",
      `cannot reach the PostgreSQL state store ${location}: ${(error as Error).message}; check that the server is up and store.url is right`,
      { cause: error },
    );
  }
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
function _typeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
  return pg.types.getTypeParser(oid, (format ?? "text") as "text");
}

async function _migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // Two processes opening a new database at once must not both apply the same migration.
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [MIGRATION_LOCK]);
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
    await client.query("COMMIT");
    client.release();
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    client.release(_isConnectionError(error));
    throw error;
  }
}

function _set(sets: string[], values: unknown[], column: string, value: unknown): void {
  sets.push(`${column} = ?`);
  values.push(value);
}
