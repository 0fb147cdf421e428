/**
 * The state store's data types and its one interface. Every method is async so a networked implementation
 * (PostgreSQL) can follow behind the same interface; the SQLite implementation answers synchronously underneath.
 *
 * Times are ISO-8601 strings in UTC (`2026-11-25T21:07:26.123Z`): they sort as text, compare the same way in every
 * SQL engine and survive JSON unchanged. Structured columns (stats, snapshots, lists) are JSON documents.
 */

/** Status of a whole run. */
export type RunStatus = "running" | "succeeded" | "failed" | "interrupted";

/** Status of one step of one site in a run. */
export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "skipped" | "interrupted";

/** A run of `siteloom run`: which sites and steps, where, and how it ended. */
export interface RunRecord {
  /** Sortable id: `20261125-210726-3f9a` (UTC start time + random suffix). */
  id: string;
  status: RunStatus;
  /** Environment profile the run used. */
  env: string;
  sites: string[];
  steps: string[];
  dryRun: boolean;
  started: string;
  finished: string | undefined;
  /** Who started it: `user@host` (never a credential). */
  actor: string;
  host: string;
  pid: number;
  /** Sum of the steps' costs, USD. */
  costUsd: number;
  /** Run-level error message (secrets already masked), e.g. why it was interrupted. */
  error: string | undefined;
  /** Free-form run options (concurrency, flags), for `runs show`. */
  options: Record<string, unknown>;
}

/** What `createRun` needs; the store fills in `status: "running"`, `costUsd: 0`, `finished`, `error`. */
export type NewRun = Omit<RunRecord, "status" | "finished" | "costUsd" | "error" | "id"> & { id?: string };

/** One step of one site inside a run. */
export interface RunStepRecord {
  runId: string;
  site: string;
  step: string;
  /** Order of the step within the site's run (0-based). */
  position: number;
  status: StepStatus;
  started: string | undefined;
  finished: string | undefined;
  /** Counters the step reported (files uploaded, articles generated, pages written...). */
  counts: Record<string, number>;
  bytes: number;
  costUsd: number;
  /** One-line human summary ("3 files uploaded, 0 deleted"). */
  summary: string | undefined;
  /** For dry runs: what the step would do, one line each. */
  plan: string[];
  /** Error message (masked) and code when the step failed. */
  error: string | undefined;
  errorCode: string | undefined;
}

/** Fields a step update may change. */
export type RunStepPatch = Partial<Omit<RunStepRecord, "runId" | "site" | "step">>;

export interface ListRunsOptions {
  /** Only runs that included this site. */
  site?: string;
  /** Only runs with this status. */
  status?: RunStatus;
  /** Newest first; at most this many. @default 50 */
  limit?: number;
  /** Only runs whose id sorts before this one (the next page after a page ending with it). */
  before?: string;
}

/** A generic JSON document, addressed by namespace and key (cost ledgers, manifests, service state). */
export interface StoredDocument<T = unknown> {
  namespace: string;
  key: string;
  value: T;
  /** Incremented on every write; pass it back as `expectedVersion` for optimistic concurrency. */
  version: number;
  updated: string;
}

/** A document written together with another change (see `settleBudget`); its version starts at 1. */
export interface KeptDocument {
  namespace: string;
  key: string;
  value: unknown;
}

/** One entry of the audit chain as the store keeps it: its place, its hash and its exact JSON text. */
export interface StoredAuditEntry {
  /** 1, 2, 3... in chain order. */
  seq: number;
  hash: string;
  /** The entry's JSON, byte for byte as hashed (re-serialising could reorder keys). */
  text: string;
}

/** What `appendAudit`'s `seal` returns: the new entry, chained to the last one. */
export interface SealedAuditEntry {
  time: string;
  hash: string;
  text: string;
}

/** One saved version of the runtime configuration (written by the config service). */
export interface ConfigVersion {
  /** 1, 2, 3... assigned by the store. */
  id: number;
  time: string;
  /** Token name or `user@host` that made the change. */
  actor: string;
  /** Where the change came from: `api`, `cli`, `file`, `rollback:<id>`... */
  source: string;
  /** Environment the version applies to, when it is environment-specific. */
  env: string | undefined;
  /** What changed (JSON: e.g. a list of `{ path, from, to }`); never resolved secret values. */
  diff: unknown;
  /** The whole configuration after the change (references unresolved). */
  snapshot: unknown;
}

export type NewConfigVersion = Omit<ConfigVersion, "id" | "time" | "env"> & { time?: string; env?: string };

/** An API token of the runtime config service. Only a hash of the token is stored. */
export interface TokenRecord {
  name: string;
  role: string;
  /** Environments the token may act on; `["*"]` for all. */
  envs: string[];
  /** Hash of the token (the service chooses the algorithm, e.g. `sha256:<hex>`). */
  hash: string;
  created: string;
  expires: string | undefined;
  revoked: string | undefined;
  lastUsed: string | undefined;
}

export type NewToken = Omit<TokenRecord, "created" | "revoked" | "lastUsed"> & { created?: string };

/** The holder of a named lock (per-site run locks, deploy targets); see ./lock.ts. */
export interface LockRecord {
  name: string;
  /** Run id or another description of what holds it. */
  owner: string;
  pid: number;
  host: string;
  acquired: string;
  /** When the holder last renewed its lease. */
  heartbeat: string;
  /** When the lease runs out unless renewed (heartbeat + lease); unset in records written before leases. */
  expires?: string | null;
}

/** One model call in the cost ledger (accepted or not). */
export interface CostEntry {
  /** ISO 8601 UTC. */
  time: string;
  site: string;
  /** The topic text. */
  topic: string;
  /** Topic id (hash of the row). */
  topicId: string;
  provider: string;
  model: string;
  /** outline | article | outline-repair | article-repair */
  step: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Whether the call's output was accepted. */
  ok: boolean;
}

/**
 * Money set aside for one model call before it is made, so calls in flight in any process count against the
 * budgets. Settled (turned into a ledger entry with the real cost) or released (the call failed) afterwards.
 */
export interface BudgetReservation {
  id: string;
  /** YYYY-MM (UTC) the spend counts in. */
  month: string;
  site: string;
  topicId: string;
  /** Upper bound of the call's cost, USD. */
  amountUsd: number;
  /** Who holds it (one id per process and run); heartbeats refresh every reservation of an owner. */
  owner: string;
  pid: number;
  host: string;
  created: string;
  heartbeat: string;
}

export type NewBudgetReservation = Omit<BudgetReservation, "id" | "created" | "heartbeat">;

/** The month's spend of the whole workspace: settled calls and reservations still held. */
export interface BudgetSpend {
  settledUsd: number;
  reservedUsd: number;
}

export type ReserveBudgetResult =
  | ({ granted: true; reservation: BudgetReservation } & BudgetSpend)
  | ({ granted: false } & BudgetSpend);

/**
 * Something siteloom put on a second target (a WordPress post, media item or term), so a rerun can tell what is
 * already there and whether it changed.
 */
export interface PublishedItem {
  /** Which target: `wordpress:<site url>|<site name>`. */
  target: string;
  /** `post`, `media`, `category`, `tag`... */
  kind: string;
  /** Our key: the article id, the content hash of a file, a term slug. */
  key: string;
  /** The target's id for it (WordPress post/media/term id). */
  remoteId: string;
  /** Hash of what was last sent ("" when only reserved). */
  hash: string;
  /** Anything else worth keeping (permalink, slug, status), as JSON. */
  info: Record<string, unknown>;
  updated: string;
}

/** Where one alert stands on one channel. `pending` includes alerts whose channel failed (they are kept). */
export type AlertDeliveryStatus = "pending" | "sent";

/** One alert to deliver on one channel. Its `id` (`<alertKey>/<channel>`) is the idempotency key receivers see. */
export interface AlertDelivery {
  id: string;
  /** The alert's own key, the same on every channel. */
  alertKey: string;
  /** Alert kind: `secret.reveal`, `run.failed`, `budget.threshold`... */
  kind: string;
  channel: string;
  status: AlertDeliveryStatus;
  /** What is sent (JSON; never a secret value or a token). */
  payload: Record<string, unknown>;
  created: string;
  /** Failed attempts so far. */
  attempts: number;
  /** Not sent again before this time. */
  nextAttempt: string;
  /** Why the last attempt failed (masked). */
  lastError: string | undefined;
  sent: string | undefined;
}

export type NewAlertDelivery = Pick<AlertDelivery, "id" | "alertKey" | "kind" | "channel" | "payload"> & {
  created?: string;
};

/**
 * A signed-in browser session of the web console. Neither secret is stored: `id` is the hash of the cookie's value
 * and `tokenHash` the hash of the API token signed in with (as the tokens table keeps it), so reading the table gives
 * nothing to sign in with.
 */
export interface ConsoleSessionRecord {
  /** `sha256:<hex>` of the session cookie's value. */
  id: string;
  /** The token's hash: each request looks the token up by it, so revoking the token ends the session. */
  tokenHash: string;
  /** The CSRF token the console sends with every write. */
  csrf: string;
  created: string;
  /** Ends then unless used (each use moves it on). */
  expires: string;
}

/**
 * The state store. One instance per process is enough; it is safe to open the same database from several
 * processes (SQLite in WAL mode with a busy timeout; writes are short transactions).
 */
export interface StateStore {
  /** `sqlite` (embedded default) or a future `postgres`. */
  readonly kind: string;
  /** Where the data lives (a file path; a URL without credentials for servers). */
  readonly location: string;

  // runs
  createRun(run: NewRun): Promise<RunRecord>;
  updateRun(id: string, patch: Partial<Pick<RunRecord, "status" | "finished" | "costUsd" | "error">>): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Finds a run by its full id or a unique prefix; undefined when none, throws ERR_USAGE when ambiguous. */
  findRun(idOrPrefix: string): Promise<RunRecord | undefined>;
  listRuns(options?: ListRunsOptions): Promise<RunRecord[]>;

  // run steps
  /** Creates or updates one step of one site of a run. */
  saveStep(runId: string, site: string, step: string, patch: RunStepPatch): Promise<RunStepRecord>;
  listSteps(runId: string): Promise<RunStepRecord[]>;

  // documents (generic key/value)
  getDocument<T = unknown>(namespace: string, key: string): Promise<StoredDocument<T> | undefined>;
  /**
   * Writes a document. With `expectedVersion`, the write happens only if the stored version still matches
   * (0 = must not exist yet), else ERR_STORE_CONFLICT.
   */
  putDocument<T = unknown>(
    namespace: string,
    key: string,
    value: T,
    options?: { expectedVersion?: number },
  ): Promise<StoredDocument<T>>;
  deleteDocument(namespace: string, key: string): Promise<boolean>;
  /** Documents of a namespace, by key, optionally only keys starting with `prefix`. */
  listDocuments<T = unknown>(namespace: string, prefix?: string): Promise<StoredDocument<T>[]>;

  // configuration versions
  /** Appends a version; the store assigns the next id atomically. */
  addConfigVersion(version: NewConfigVersion): Promise<ConfigVersion>;
  getConfigVersion(id: number): Promise<ConfigVersion | undefined>;
  /** Newest first. */
  listConfigVersions(options?: { env?: string; limit?: number; beforeId?: number }): Promise<ConfigVersion[]>;
  latestConfigVersion(env?: string): Promise<ConfigVersion | undefined>;
  /**
   * Calls `onChange` when a configuration version was recorded by any process (PostgreSQL LISTEN/NOTIFY: the new
   * version's id; `undefined` once listening starts and after a reconnect, when one may have been missed). Absent
   * where one machine is alone (SQLite): there the files themselves and the server's file watcher carry changes.
   */
  watchConfigVersions?(onChange: (version: number | undefined) => void): { close(): Promise<void> };

  // limits shared by every process
  /**
   * A limiter of calls (model requests) that holds for every process sharing the store (PostgreSQL: advisory locks
   * and a start log, see pg-limiter.ts); one per name and limits, closed with the store. Absent where one process is
   * alone with its limits (SQLite): callers then limit in-process.
   */
  callLimiter?(name: string, limits: CallLimits): CallLimiter;

  // tokens
  /** Adds a token; ERR_STORE_CONFLICT if the name exists. */
  createToken(token: NewToken): Promise<TokenRecord>;
  getToken(name: string): Promise<TokenRecord | undefined>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  /** Marks the token revoked (kept for the audit trail); false when there is no such token. */
  revokeToken(name: string, time?: string): Promise<boolean>;
  /** Records a use of the token. */
  touchToken(name: string, time?: string): Promise<void>;
  deleteToken(name: string): Promise<boolean>;

  // locks
  /**
   * Takes the named lock atomically if it is free, or if `isStale(current)` says its holder is gone.
   * Returns `{ acquired: true, previous }` (previous = the stale holder taken over, if any) or
   * `{ acquired: false, holder }`.
   */
  acquireLock(
    lock: Omit<LockRecord, "acquired" | "heartbeat" | "expires"> & { leaseMs: number },
    isStale: (current: LockRecord) => boolean,
  ): Promise<{ acquired: true; previous: LockRecord | undefined } | { acquired: false; holder: LockRecord }>;
  /** Renews the lease: heartbeat = now, expires = now + leaseMs; false if the lock is no longer ours (taken over). */
  heartbeatLock(name: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Releases the lock if `owner` still holds it. Synchronous for exit handlers where the backend allows it. */
  releaseLock(name: string, owner: string): Promise<void>;
  getLock(name: string): Promise<LockRecord | undefined>;
  listLocks(): Promise<LockRecord[]>;

  // published items (second targets)
  /** Items of a target, optionally of one kind, ordered by kind and key. */
  listPublished(target: string, kind?: string): Promise<PublishedItem[]>;
  /** Creates or replaces one item (`updated` set by the store). */
  savePublished(item: Omit<PublishedItem, "updated">): Promise<void>;
  deletePublished(target: string, kind: string, key: string): Promise<boolean>;

  // cost ledger and budget reservations
  /**
   * In one transaction: drops reservations `isStale` says are abandoned (their process died), sums the month's
   * settled and reserved spend of the whole workspace, and adds the reservation only if that sum plus
   * `amountUsd` stays within `maxMonthlyUsd` (no limit: always granted). Concurrent callers in any process or on any
   * machine are serialised, so no interleaving overspends.
   */
  reserveBudget(
    reservation: NewBudgetReservation,
    options: { maxMonthlyUsd?: number | undefined; isStale: (current: BudgetReservation) => boolean },
  ): Promise<ReserveBudgetResult>;
  /**
   * Records the call's real cost in the ledger and drops its reservation (if any), in one transaction; with
   * `keep`, that transaction also writes the document (what the call returned), so a process killed right after
   * paying leaves the answer beside the ledger entry and a rerun uses it instead of paying again.
   */
  settleBudget(reservationId: string | undefined, entry: CostEntry, keep?: KeptDocument): Promise<void>;
  /** Drops a reservation whose call failed before it was paid for. */
  releaseBudget(reservationId: string): Promise<void>;
  /** Refreshes the heartbeat of every reservation `owner` holds; returns how many. */
  heartbeatBudget(owner: string): Promise<number>;
  /** The month's settled spend and live reservations (stale ones are not counted). */
  budgetSpend(month: string, isStale?: (current: BudgetReservation) => boolean): Promise<BudgetSpend>;
  /** Ledger entries in time order, optionally of one month (YYYY-MM) and/or one site. */
  listCosts(filter?: { month?: string; site?: string }): Promise<CostEntry[]>;
  /**
   * Appends ledger entries kept elsewhere before (the old `ledger.jsonl`) in one transaction, once per `source`:
   * a second import of the same source (another process, a rerun) adds nothing and returns 0.
   */
  importCosts(source: string, entries: CostEntry[]): Promise<number>;

  // alert deliveries (migration 6)
  /** Queues a delivery; false (and nothing changes) when one with the same id exists: enqueueing is idempotent. */
  enqueueAlert(delivery: NewAlertDelivery): Promise<boolean>;
  /**
   * Claims up to `limit` pending deliveries that are due, for `leaseMs` (a delivery claimed by a process that died is
   * claimable again once the lease ends), oldest first. Concurrent claimers never get the same delivery.
   */
  claimAlerts(
    owner: string,
    options: {
      limit: number;
      leaseMs: number;
      /** Due time compared with `next_attempt`. @default now */
      now?: string;
      /** A live claim whose owner this says is gone (a killed process on this host) is taken over. */
      isStale?: (claimOwner: string) => boolean;
    },
  ): Promise<AlertDelivery[]>;
  /** Records the outcome of an attempt and drops the claim: sent, or failed with the time of the next attempt. */
  finishAlert(
    id: string,
    outcome: { sent: true; time?: string } | { sent: false; error: string; nextAttempt: string },
  ): Promise<void>;
  /** Deliveries, newest first, optionally of one status. */
  listAlerts(options?: { status?: AlertDeliveryStatus; limit?: number }): Promise<AlertDelivery[]>;
  /** How many deliveries there are, optionally of one status (counted by the database, no rows read). */
  countAlerts(status?: AlertDeliveryStatus): Promise<number>;

  // console sessions (migration 7)
  /** Adds a session and drops the expired ones. */
  createSession(session: ConsoleSessionRecord): Promise<void>;
  /** The session with this id unless it expired before `now` (default: now). */
  getSession(id: string, now?: string): Promise<ConsoleSessionRecord | undefined>;
  /** Moves a session's expiry (a sliding lifetime); false when there is no such session. */
  touchSession(id: string, expires: string): Promise<boolean>;
  deleteSession(id: string): Promise<boolean>;

  // audit log (migration 8; used when the store is shared, `.siteloom/audit.log` otherwise)
  /**
   * Appends one entry to the audit chain: `seal` gets the last entry (undefined for the first) and returns the new
   * one chained to it. Appenders in every process and on every machine are serialised, so the chain never forks;
   * the head document (`audit`/`head`: count and last hash) is written in the same transaction.
   */
  appendAudit(seal: (last: StoredAuditEntry | undefined) => SealedAuditEntry): Promise<StoredAuditEntry>;
  /** Audit entries in chain order, those after `afterSeq` when given, at most `limit`. */
  listAudit(options?: { afterSeq?: number; limit?: number }): Promise<StoredAuditEntry[]>;

  /** The applied schema version (number of the last migration). */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}

/** Limits of a call limiter. */
export interface CallLimits {
  /** Calls running at once. */
  concurrency: number;
  /** Calls started in any 60 s; unset: no limit. */
  perMinute?: number | undefined;
}

/** Runs calls within limits; waiting for a turn stops with the signal. */
export interface CallLimiter {
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  close(): Promise<void>;
}
