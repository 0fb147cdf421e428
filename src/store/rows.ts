/**
 * Table rows of the state store (migrations.ts) and their mapping to the records of types.ts, shared by the SQLite
 * and PostgreSQL implementations so both return exactly the same shapes.
 */
import { randomBytes } from "node:crypto";
import type {
  AlertDelivery,
  BudgetReservation,
  ConfigVersion,
  CostEntry,
  KeptDocument,
  PublishedItem,
  RunRecord,
  RunStepRecord,
  SealedAuditEntry,
  StoredAuditEntry,
  StoredDocument,
  TokenRecord,
} from "./types.ts";

export interface RunRow {
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

export interface StepRow {
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

export interface PublishedRow {
  target: string;
  kind: string;
  item_key: string;
  remote_id: string;
  hash: string;
  info: string;
  updated: string;
}

export interface DocRow {
  namespace: string;
  doc_key: string;
  value: string;
  version: number;
  updated: string;
}

export interface ConfigRow {
  id: number;
  time: string;
  actor: string;
  source: string;
  env: string | null;
  diff: string;
  snapshot: string;
}

export interface TokenRow {
  name: string;
  role: string;
  envs: string;
  hash: string;
  created: string;
  expires: string | null;
  revoked: string | null;
  last_used: string | null;
}

export interface ReservationRow {
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

export interface CostRow {
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

export function reservationFromRow(row: ReservationRow): BudgetReservation {
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

export function costFromRow(row: CostRow): CostEntry {
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

/** USD rounded to a millionth (sums of doubles drift in the last digits). */
export function roundUsd(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Now as an ISO-8601 UTC string. */
export function nowIso(): string {
  return new Date().toISOString();
}

export function runFromRow(row: RunRow): RunRecord {
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

export function stepFromRow(row: StepRow): RunStepRecord {
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

export function docFromRow<T>(row: DocRow): StoredDocument<T> {
  return {
    namespace: row.namespace,
    key: row.doc_key,
    value: JSON.parse(row.value) as T,
    version: row.version,
    updated: row.updated,
  };
}

export function configFromRow(row: ConfigRow): ConfigVersion {
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

export function tokenFromRow(row: TokenRow): TokenRecord {
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

export function publishedFromRow(row: PublishedRow): PublishedItem {
  return {
    target: row.target,
    kind: row.kind,
    key: row.item_key,
    remoteId: row.remote_id,
    hash: row.hash,
    info: JSON.parse(row.info) as Record<string, unknown>,
    updated: row.updated,
  };
}

/** A step record before anything ran. */
export function newStepRecord(runId: string, site: string, step: string): RunStepRecord {
  return {
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
}

/** A new run id: UTC start time plus a random suffix, so ids sort by time and never collide in practice. */
export function newRunId(date = new Date()): string {
  const iso = date.toISOString();
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

/** The one INSERT of a ledger entry, with `costRowValues` as its parameters. */
export const INSERT_COST_SQL = `INSERT INTO cost_ledger (id, time, month, site, topic, topic_id, provider, model, step,
  input_tokens, output_tokens, cost_usd, ok) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The parameters of INSERT_COST_SQL for one entry (a new random id; the month is the entry's UTC month). */
export function costRowValues(entry: CostEntry): (string | number)[] {
  return [
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
  ];
}

/**
 * The one upsert of a document written beside another change (`KeptDocument`), with `keptRowValues` as its
 * parameters: a rewrite bumps the version, as `putDocument` does.
 */
export const UPSERT_KEPT_SQL = `INSERT INTO documents (namespace, doc_key, value, version, updated) VALUES (?, ?, ?, 1, ?)
  ON CONFLICT (namespace, doc_key) DO UPDATE SET value = excluded.value, version = documents.version + 1,
  updated = excluded.updated`;

export function keptRowValues(keep: KeptDocument): string[] {
  return [keep.namespace, keep.key, JSON.stringify(keep.value), nowIso()];
}

/** A LIMIT that keeps every row (both engines take a bigint). */
export const ALL_ROWS = Number.MAX_SAFE_INTEGER;

/** Namespace and key of the audit chain's head document (count and last hash), written with every append. */
export const AUDIT_HEAD = { namespace: "audit", key: "head" } as const;

/** The one INSERT of an audit entry, with `auditRowValues` as its parameters. */
export const INSERT_AUDIT_SQL = "INSERT INTO audit_log (seq, time, hash, entry) VALUES (?, ?, ?, ?)";

/** The last entry of the audit chain (for `appendAudit`'s seal). */
export const LAST_AUDIT_SQL = "SELECT seq, hash, entry AS text FROM audit_log ORDER BY seq DESC LIMIT 1";

/** Audit entries after a seq, in chain order, with a limit. */
export const LIST_AUDIT_SQL = "SELECT seq, hash, entry AS text FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?";

/** The row and the head document of the entry `seal` made after `last`. */
export function sealAudit(
  last: StoredAuditEntry | undefined,
  seal: (last: StoredAuditEntry | undefined) => SealedAuditEntry,
): { entry: StoredAuditEntry; values: (string | number)[]; head: KeptDocument } {
  const sealed = seal(last);
  const entry: StoredAuditEntry = { seq: (last?.seq ?? 0) + 1, hash: sealed.hash, text: sealed.text };
  return {
    entry,
    values: [entry.seq, sealed.time, entry.hash, entry.text],
    head: { ...AUDIT_HEAD, value: { count: entry.seq, hash: entry.hash } },
  };
}

// --- internal ---

function _opt(value: string | null): string | undefined {
  return value ?? undefined;
}

/** A row of alert_deliveries (migration 6). */
export interface AlertRow {
  id: string;
  alert_key: string;
  kind: string;
  channel: string;
  status: string;
  payload: string;
  created: string;
  attempts: number;
  next_attempt: string;
  last_error: string | null;
  sent: string | null;
  claim_owner: string | null;
  claim_until: string | null;
}

export function alertFromRow(row: AlertRow): AlertDelivery {
  return {
    id: row.id,
    alertKey: row.alert_key,
    kind: row.kind,
    channel: row.channel,
    status: row.status as AlertDelivery["status"],
    payload: JSON.parse(row.payload) as Record<string, unknown>,
    created: row.created,
    attempts: Number(row.attempts),
    nextAttempt: row.next_attempt,
    lastError: row.last_error ?? undefined,
    sent: row.sent ?? undefined,
  };
}
