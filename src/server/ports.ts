// Small interfaces for the collaborators the server reaches through options, so each can be swapped (another audit
// sink, the pipeline's run starter) without the routes knowing.

/** One audit entry as the server writes it (never a secret value). */
export interface ServerAuditEntry {
  /** Token name, or `anonymous` / `file-watcher`. */
  actor: string;
  /** `config.read`, `config.patch`, `secrets.set`, `tokens.create`, ... */
  action: string;
  /** Config path, secret reference or token name. */
  key?: string | undefined;
  /** Environment the request concerned. */
  env?: string | undefined;
  outcome: "ok" | "denied" | "error";
  /** Source address of the request. */
  source?: string | undefined;
  /** HTTP method and route, for API entries. */
  request?: string | undefined;
  /** Error code on failure. */
  error?: string | undefined;
  /** Configuration or secret version the action produced. */
  version?: number | undefined;
}

/** A written entry as read back by GET /audit. */
export interface AuditRecord {
  time: string;
  actor: string;
  action: string;
  ref: string;
  env: string;
  outcome: string;
  [field: string]: unknown;
}

export interface AuditFilter {
  /** ISO time, inclusive. */
  since?: string | undefined;
  /** ISO time, exclusive. */
  until?: string | undefined;
  actor?: string | undefined;
  /** Substring of the key (reference, path, token name). */
  key?: string | undefined;
  /** Prefix of the action (`secrets` matches `secrets.set`). */
  action?: string | undefined;
  /** Newest entries kept when more match. */
  limit: number;
}

/** Where the server writes audit entries: the same hash-chained log the CLI uses. */
export interface AuditSink {
  /** Writes the entry; returns its id (hash) when it was written at once. */
  append(entry: ServerAuditEntry): string | undefined | Promise<string | undefined> | void | Promise<void>;
  query(filter: AuditFilter): AuditRecord[] | Promise<AuditRecord[]>;
}

/** Starts a pipeline run (the pipeline plugs in here). */
export interface RunStarter {
  start(request: {
    sites: string[];
    env: string;
    steps: string[] | undefined;
    dryRun: boolean;
    actor: string;
  }): Promise<{ id: string } & Record<string, unknown>>;
}
