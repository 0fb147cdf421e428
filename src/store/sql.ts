/**
 * SQL text and parameter lists both stores run unchanged (SQLite and PostgreSQL; `?` placeholders, which the
 * PostgreSQL store numbers), and the records they build before writing: one copy of each, so a column added to a
 * table is added here once. Orderings take the dialect's text collation (`""` for SQLite, ` COLLATE "C"` for
 * PostgreSQL), so both sort byte-wise alike.
 */
import { randomBytes } from "node:crypto";
import { SiteloomError } from "../errors.ts";
import { newRunId, nowIso } from "./rows.ts";
import type {
  AlertDelivery,
  BudgetReservation,
  ConfigVersion,
  ListRunsOptions,
  NewAlertDelivery,
  NewBudgetReservation,
  NewConfigVersion,
  NewRun,
  NewToken,
  RunRecord,
  RunStepRecord,
  TokenRecord,
} from "./types.ts";

/** A statement and its parameters. */
export interface SqlQuery {
  sql: string;
  values: unknown[];
}

/** The collation that makes an ORDER BY byte-wise: nothing on SQLite (BINARY already), `COLLATE "C"` on PostgreSQL. */
export type Collate = "" | ' COLLATE "C"';

export const INSERT_RUN_SQL = `INSERT INTO runs (id, status, env, sites, steps, dry_run, started, finished, actor, host,
  pid, cost_usd, error, options) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 0, NULL, ?)`;

/** A new run as `createRun` records it (a generated id unless one is given). */
export function newRunRecord(run: NewRun): RunRecord {
  return { ...run, id: run.id ?? newRunId(), status: "running", finished: undefined, costUsd: 0, error: undefined };
}

export function runRowValues(record: RunRecord): unknown[] {
  return [
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
  ];
}

/** The UPDATE of `updateRun`; undefined when the patch changes nothing. */
export function updateRunQuery(
  id: string,
  patch: Partial<Pick<RunRecord, "status" | "finished" | "costUsd" | "error">>,
): SqlQuery | undefined {
  const sets: string[] = [];
  const values: unknown[] = [];
  const set = (column: string, value: unknown) => {
    sets.push(`${column} = ?`);
    values.push(value);
  };
  if (patch.status !== undefined) set("status", patch.status);
  if ("finished" in patch) set("finished", patch.finished ?? null);
  if (patch.costUsd !== undefined) set("cost_usd", patch.costUsd);
  if ("error" in patch) set("error", patch.error ?? null);
  if (sets.length === 0) return undefined;
  return { sql: `UPDATE runs SET ${sets.join(", ")} WHERE id = ?`, values: [...values, id] };
}

/** The runs whose id starts with a prefix (`findRun`): at most two, to tell a unique prefix from an ambiguous one. */
export function runPrefixQuery(prefix: string): SqlQuery {
  return {
    sql: "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 2",
    values: [`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
  };
}

/** Thrown by `findRun` when a prefix matches more than one run. */
export function ambiguousRunError(prefix: string): SiteloomError {
  return new SiteloomError("ERR_USAGE", `run id "${prefix}" is ambiguous; give more characters`);
}

/** `listRuns`: newest first, keyset paging in the list's own order. */
export function listRunsQuery(options: ListRunsOptions): SqlQuery {
  const { where, values } = _where([
    [options.site, "EXISTS (SELECT 1 FROM run_steps s WHERE s.run_id = runs.id AND s.site = ?)"],
    [options.status, "status = ?"],
    // runs started in the same second are neither skipped nor repeated
    [options.before, "(started, id) < (SELECT started, id FROM runs WHERE id = ?)"],
  ]);
  return {
    sql: `SELECT * FROM runs ${where} ORDER BY started DESC, id DESC LIMIT ?`,
    values: [...values, options.limit ?? 50],
  };
}

export const UPSERT_STEP_SQL = `INSERT INTO run_steps (run_id, site, step, position, status, started, finished, counts,
  bytes, cost_usd, summary, plan, error, error_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (run_id, site, step) DO UPDATE SET position = excluded.position, status = excluded.status,
  started = excluded.started, finished = excluded.finished, counts = excluded.counts, bytes = excluded.bytes,
  cost_usd = excluded.cost_usd, summary = excluded.summary, plan = excluded.plan, error = excluded.error,
  error_code = excluded.error_code`;

export function stepRowValues(step: RunStepRecord): unknown[] {
  return [
    step.runId,
    step.site,
    step.step,
    step.position,
    step.status,
    step.started ?? null,
    step.finished ?? null,
    JSON.stringify(step.counts),
    step.bytes,
    step.costUsd,
    step.summary ?? null,
    JSON.stringify(step.plan),
    step.error ?? null,
    step.errorCode ?? null,
  ];
}

export const UPSERT_DOCUMENT_SQL = `INSERT INTO documents (namespace, doc_key, value, version, updated)
  VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace, doc_key) DO UPDATE SET value = excluded.value,
  version = excluded.version, updated = excluded.updated`;

/** `putDocument`'s optimistic check: ERR_STORE_CONFLICT when the stored version is not the expected one. */
export function checkDocumentVersion(namespace: string, key: string, current: number, expected?: number): void {
  if (expected !== undefined && expected !== current) {
    throw new SiteloomError(
      "ERR_STORE_CONFLICT",
      `${namespace}/${key} changed meanwhile (version ${current}, expected ${expected}); reload and retry`,
    );
  }
}

export const INSERT_CONFIG_VERSION_SQL =
  "INSERT INTO config_versions (id, time, actor, source, env, diff, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)";

/** The next configuration version after the highest id stored, and its INSERT parameters. */
export function newConfigVersion(lastId: number | null | undefined, version: NewConfigVersion) {
  const record: ConfigVersion = {
    id: (lastId ?? 0) + 1,
    time: version.time ?? nowIso(),
    actor: version.actor,
    source: version.source,
    env: version.env,
    diff: version.diff,
    snapshot: version.snapshot,
  };
  const values = [
    record.id,
    record.time,
    record.actor,
    record.source,
    record.env ?? null,
    JSON.stringify(record.diff ?? null),
    JSON.stringify(record.snapshot ?? null),
  ];
  return { record, values };
}

/** `listConfigVersions`: newest first. */
export function listConfigVersionsQuery(options: { env?: string; limit?: number; beforeId?: number }): SqlQuery {
  const { where, values } = _where([
    [options.env, "env = ?"],
    [options.beforeId, "id < ?"],
  ]);
  return {
    sql: `SELECT * FROM config_versions ${where} ORDER BY id DESC LIMIT ?`,
    values: [...values, options.limit ?? 50],
  };
}

export const INSERT_TOKEN_SQL = `INSERT INTO tokens (name, role, envs, hash, created, expires, revoked, last_used)
  VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)`;

/** A new token as `createToken` records it, and its INSERT parameters. */
export function newToken(token: NewToken) {
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
  const values = [
    record.name,
    record.role,
    JSON.stringify(record.envs),
    record.hash,
    record.created,
    record.expires ?? null,
  ];
  return { record, values };
}

/** Thrown by `createToken` when the name is taken. */
export function tokenExistsError(name: string, cause: unknown): SiteloomError {
  return new SiteloomError("ERR_STORE_CONFLICT", `a token named "${name}" already exists`, { cause });
}

export const UPSERT_LOCK_SQL = `INSERT INTO locks (name, owner, pid, host, acquired, heartbeat, expires)
  VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid,
  host = excluded.host, acquired = excluded.acquired, heartbeat = excluded.heartbeat, expires = excluded.expires`;

/** UPSERT_LOCK_SQL's parameters for a lock taken now with a lease of `leaseMs`. */
export function lockRowValues(lock: { name: string; owner: string; pid: number; host: string; leaseMs: number }) {
  const now = Date.now();
  const time = new Date(now).toISOString();
  return [lock.name, lock.owner, lock.pid, lock.host, time, time, new Date(now + lock.leaseMs).toISOString()];
}

/** `heartbeatLock`: renews the lease of `owner`'s lock. */
export function heartbeatLockQuery(name: string, owner: string, leaseMs: number): SqlQuery {
  const now = Date.now();
  return {
    sql: "UPDATE locks SET heartbeat = ?, expires = ? WHERE name = ? AND owner = ?",
    values: [new Date(now).toISOString(), new Date(now + leaseMs).toISOString(), name, owner],
  };
}

/** The month's settled spend (one row, `usd`). */
export const SETTLED_SQL = "SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM cost_ledger WHERE month = ?";

/** The held reservations of a month (`budgetSpend`, and deciding which are stale). */
export const MONTH_RESERVATIONS_SQL = "SELECT * FROM budget_reservations WHERE month = ?";

/** A reservation's columns id … created, in table order (the heartbeat, equal to `created` when new, follows). */
export function reservationRowValues(r: BudgetReservation): (string | number)[] {
  return [r.id, r.month, r.site, r.topicId, r.amountUsd, r.owner, r.pid, r.host, r.created];
}

/** A new reservation with a random id, created and heartbeating now. */
export function newReservation(reservation: NewBudgetReservation): BudgetReservation {
  const now = nowIso();
  return { ...reservation, id: randomBytes(8).toString("hex"), created: now, heartbeat: now };
}

/** `listCosts`: in time order, optionally one month and/or one site. */
export function listCostsQuery(filter: { month?: string; site?: string }, collate: Collate): SqlQuery {
  const { where, values } = _where([
    [filter.month, "month = ?"],
    [filter.site, "site = ?"],
  ]);
  return { sql: `SELECT * FROM cost_ledger ${where} ORDER BY time${collate}, id${collate}`, values };
}

/** Marks an import source done (`importCosts`), in the transaction that added its entries. */
export const COST_IMPORT_DONE_SQL =
  "INSERT INTO documents (namespace, doc_key, value, version, updated) VALUES ('cost-imports', ?, ?, 1, ?)";

export const COST_IMPORT_SEEN_SQL = "SELECT 1 FROM documents WHERE namespace = 'cost-imports' AND doc_key = ?";

export const INSERT_ALERT_SQL = `INSERT INTO alert_deliveries (id, alert_key, kind, channel, status, payload, created,
  attempts, next_attempt) VALUES (?, ?, ?, ?, 'pending', ?, ?, 0, ?) ON CONFLICT (id) DO NOTHING`;

export function alertRowValues(delivery: NewAlertDelivery): unknown[] {
  const created = delivery.created ?? nowIso();
  const { id, alertKey, kind, channel, payload } = delivery;
  return [id, alertKey, kind, channel, JSON.stringify(payload), created, created];
}

/** `finishAlert`: sent, or failed with the time of the next attempt; the claim is dropped either way. */
export function finishAlertQuery(
  id: string,
  outcome: { sent: true; time?: string } | { sent: false; error: string; nextAttempt: string },
): SqlQuery {
  if (outcome.sent) {
    return {
      sql: `UPDATE alert_deliveries SET status = 'sent', sent = ?, last_error = NULL, claim_owner = NULL,
        claim_until = NULL WHERE id = ?`,
      values: [outcome.time ?? nowIso(), id],
    };
  }
  return {
    sql: `UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt = ?, claim_owner = NULL,
      claim_until = NULL WHERE id = ? AND status = 'pending'`,
    values: [outcome.error, outcome.nextAttempt, id],
  };
}

/** `listAlerts`: newest first, optionally of one status. */
export function listAlertsQuery(options: { status?: AlertDelivery["status"]; limit?: number }, collate: Collate) {
  const { where, values } = _where([[options.status, "status = ?"]]);
  return {
    sql: `SELECT * FROM alert_deliveries ${where} ORDER BY created${collate} DESC, id${collate} DESC LIMIT ?`,
    values: [...values, options.limit ?? 100],
  };
}

// --- internal ---

/** A WHERE clause of the conditions whose value is set (each with one `?`), ANDed; "" when none is. */
function _where(conditions: [unknown, string][]): { where: string; values: unknown[] } {
  const set = conditions.filter(([value]) => value !== undefined);
  return {
    where: set.length ? `WHERE ${set.map(([, sql]) => sql).join(" AND ")}` : "",
    values: set.map(([value]) => value),
  };
}
