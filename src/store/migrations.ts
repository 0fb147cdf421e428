/**
 * Versioned schema migrations. Each entry is applied once, in order, inside a transaction, and recorded in
 * `schema_migrations`. Never edit a released migration: add a new one.
 *
 * The SQL is kept portable between SQLite and PostgreSQL: TEXT, INTEGER, BIGINT, DOUBLE PRECISION and plain
 * PRIMARY KEY / UNIQUE constraints only; no AUTOINCREMENT/SERIAL (ids are assigned by the store), no JSON column
 * types (JSON is stored as TEXT), times as ISO-8601 TEXT. Where the dialects must differ, a statement is written
 * once per dialect (`{ sqlite, postgres }`) and `statementSql` picks the one the store speaks.
 */
export interface Migration {
  version: number;
  name: string;
  statements: MigrationStatement[];
}

/** SQL both engines run unchanged, or one text per dialect (a dialect left out has nothing to run). */
export type MigrationStatement = string | { sqlite?: string; postgres?: string };

/** The SQL dialects of the state store. */
export type StoreDialect = "sqlite" | "postgres";

/** The text of `statement` for `dialect`; undefined when that dialect has nothing to run. */
export function statementSql(statement: MigrationStatement, dialect: StoreDialect): string | undefined {
  return typeof statement === "string" ? statement : statement[dialect];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "runs, run steps, documents, config versions, tokens, locks",
    statements: [
      `CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        env TEXT NOT NULL,
        sites TEXT NOT NULL,
        steps TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,
        actor TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        error TEXT,
        options TEXT NOT NULL
      )`,
      "CREATE INDEX runs_started ON runs (started)",
      `CREATE TABLE run_steps (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        site TEXT NOT NULL,
        step TEXT NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL,
        started TEXT,
        finished TEXT,
        counts TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        summary TEXT,
        plan TEXT NOT NULL,
        error TEXT,
        error_code TEXT,
        PRIMARY KEY (run_id, site, step)
      )`,
      "CREATE INDEX run_steps_site ON run_steps (site, run_id)",
      `CREATE TABLE documents (
        namespace TEXT NOT NULL,
        doc_key TEXT NOT NULL,
        value TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (namespace, doc_key)
      )`,
      `CREATE TABLE config_versions (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        env TEXT,
        diff TEXT NOT NULL,
        snapshot TEXT NOT NULL
      )`,
      "CREATE INDEX config_versions_env ON config_versions (env, id)",
      `CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        envs TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        expires TEXT,
        revoked TEXT,
        last_used TEXT
      )`,
      `CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        acquired TEXT NOT NULL,
        heartbeat TEXT NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: "locks: lease expiry",
    statements: ["ALTER TABLE locks ADD COLUMN expires TEXT"],
  },
  {
    version: 3,
    name: "published items of second targets (WordPress posts, media, terms)",
    statements: [
      `CREATE TABLE published (
        target TEXT NOT NULL,
        kind TEXT NOT NULL,
        item_key TEXT NOT NULL,
        remote_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        info TEXT NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (target, kind, item_key)
      )`,
    ],
  },
  {
    version: 4,
    name: "cost ledger and budget reservations",
    statements: [
      `CREATE TABLE cost_ledger (
        id TEXT PRIMARY KEY,
        time TEXT NOT NULL,
        month TEXT NOT NULL,
        site TEXT NOT NULL,
        topic TEXT NOT NULL,
        topic_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        step TEXT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        ok INTEGER NOT NULL
      )`,
      "CREATE INDEX cost_ledger_month ON cost_ledger (month, time)",
      `CREATE TABLE budget_reservations (
        id TEXT PRIMARY KEY,
        month TEXT NOT NULL,
        site TEXT NOT NULL,
        topic_id TEXT NOT NULL,
        amount_usd DOUBLE PRECISION NOT NULL,
        owner TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        created TEXT NOT NULL,
        heartbeat TEXT NOT NULL
      )`,
      "CREATE INDEX budget_reservations_month ON budget_reservations (month)",
      "CREATE INDEX budget_reservations_owner ON budget_reservations (owner)",
    ],
  },
  {
    version: 5,
    name: "budget reservation in one server-side call (PostgreSQL)",
    statements: [
      {
        // The month's advisory lock is held only while the server runs this function, not across network round
        // trips: 16 reservers on several machines serialise in microseconds. Both sums are read by one statement
        // (one snapshot), so a settle committing meanwhile is counted once, never zero times.
        postgres: _reserveBudgetFunction("(SELECT SUM(cost_usd) FROM cost_ledger WHERE month = p_month)"),
      },
    ],
  },
  {
    version: 6,
    name: "alert deliveries (one row per alert and channel; the id is the idempotency key)",
    statements: [
      `CREATE TABLE alert_deliveries (
        id TEXT PRIMARY KEY,
        alert_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        created TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt TEXT NOT NULL,
        last_error TEXT,
        sent TEXT,
        claim_owner TEXT,
        claim_until TEXT
      )`,
      "CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt)",
      "CREATE INDEX alert_deliveries_created ON alert_deliveries (created)",
    ],
  },
  {
    version: 7,
    name: "console sessions (hashes only: the cookie and the token are stored nowhere)",
    statements: [
      `CREATE TABLE console_sessions (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created TEXT NOT NULL,
        expires TEXT NOT NULL
      )`,
      "CREATE INDEX console_sessions_expires ON console_sessions (expires)",
    ],
  },
  {
    version: 8,
    name: "audit log (the hash chain, one row per entry, for stores shared by many machines)",
    statements: [
      `CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        time TEXT NOT NULL,
        hash TEXT NOT NULL,
        entry TEXT NOT NULL
      )`,
    ],
  },
  {
    version: 9,
    name: "the workspace-wide LLM call limiter's start log (PostgreSQL)",
    statements: [
      {
        // IF NOT EXISTS: before this migration the limiter created the table itself; such a database keeps its rows
        postgres: `CREATE TABLE IF NOT EXISTS siteloom_call_log (
          name text NOT NULL,
          at timestamptz NOT NULL DEFAULT clock_timestamp()
        )`,
      },
      { postgres: "CREATE INDEX IF NOT EXISTS siteloom_call_log_name_at ON siteloom_call_log (name, at)" },
    ],
  },
  {
    version: 10,
    name: "the month's settled spend kept as a running total (PostgreSQL), summed from an index (SQLite)",
    statements: [
      // Kept by a trigger, so every write of the ledger (settle, import, a hand edit) moves it in its own
      // transaction; a reserver's single-statement read sees a settle's reservation gone and its cost counted, or
      // neither, as with the sum it replaces. Settles of one month queue on this row only while they commit. NUMERIC
      // (each cost as its 15 significant digits): adding and taking away never drifts.
      { postgres: "CREATE TABLE budget_months (month TEXT PRIMARY KEY, settled_usd NUMERIC NOT NULL)" },
      // SQLite (one machine) keeps summing, from an index that holds the costs
      { sqlite: "CREATE INDEX cost_ledger_month_cost ON cost_ledger (month, cost_usd)" },
      {
        postgres: `CREATE FUNCTION siteloom_budget_month_total() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE budget_months SET settled_usd = settled_usd - OLD.cost_usd::NUMERIC WHERE month = OLD.month;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO budget_months (month, settled_usd) VALUES (NEW.month, NEW.cost_usd::NUMERIC)
              ON CONFLICT (month) DO UPDATE SET settled_usd = budget_months.settled_usd + excluded.settled_usd;
          END IF;
          RETURN NULL;
        END
        $fn$`,
      },
      // the trigger first: it locks the ledger against writes until this transaction has filled the totals
      {
        postgres: `CREATE TRIGGER cost_ledger_month_total AFTER INSERT OR DELETE OR UPDATE OF month, cost_usd
          ON cost_ledger FOR EACH ROW EXECUTE FUNCTION siteloom_budget_month_total()`,
      },
      {
        postgres:
          "INSERT INTO budget_months (month, settled_usd) SELECT month, SUM(cost_usd::NUMERIC) FROM cost_ledger GROUP BY month",
      },
      {
        postgres: _reserveBudgetFunction(
          "(SELECT m.settled_usd::DOUBLE PRECISION FROM budget_months m WHERE m.month = p_month)",
        ),
      },
    ],
  },
];

/** The newest schema version this build knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * siteloom_reserve_budget (migrations 5 and 10): under the month's advisory lock, drops the stale reservations
 * named, reads the month's settled spend (`settled`, a scalar subquery on p_month) and held reservations in one
 * snapshot, and adds the reservation only if it fits p_max.
 */
function _reserveBudgetFunction(settled: string): string {
  return `CREATE OR REPLACE FUNCTION siteloom_reserve_budget(
          p_stale TEXT[], p_max DOUBLE PRECISION, p_id TEXT, p_month TEXT, p_site TEXT, p_topic_id TEXT,
          p_amount DOUBLE PRECISION, p_owner TEXT, p_pid INTEGER, p_host TEXT, p_now TEXT)
        RETURNS TABLE (granted BOOLEAN, settled_usd DOUBLE PRECISION, reserved_usd DOUBLE PRECISION)
        LANGUAGE plpgsql AS $fn$
        DECLARE s DOUBLE PRECISION; r DOUBLE PRECISION;
        BEGIN
          PERFORM pg_advisory_xact_lock(hashtextextended('budget:' || p_month, 0));
          IF cardinality(p_stale) > 0 THEN
            DELETE FROM budget_reservations WHERE id = ANY(p_stale);
          END IF;
          SELECT COALESCE(${settled}, 0),
                 COALESCE((SELECT SUM(amount_usd) FROM budget_reservations WHERE month = p_month), 0)
            INTO s, r;
          IF p_max IS NOT NULL AND s + r + p_amount > p_max + 1e-9 THEN
            RETURN QUERY SELECT FALSE, s, r;
            RETURN;
          END IF;
          INSERT INTO budget_reservations (id, month, site, topic_id, amount_usd, owner, pid, host, created, heartbeat)
            VALUES (p_id, p_month, p_site, p_topic_id, p_amount, p_owner, p_pid, p_host, p_now, p_now);
          RETURN QUERY SELECT TRUE, s, r;
        END
        $fn$`;
}
