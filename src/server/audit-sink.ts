import type { AuditTrail } from "../audit/index.ts";
import { trackPending } from "../pending.ts";
import type { AuditRecord, AuditSink, ServerAuditEntry } from "./ports.ts";

export interface AuditLogSinkOptions {
  /**
   * Successful reads repeated with the same actor, action, key, environment, source and route within this window
   * are written as one entry with `count` when the window ends (the first one is written at once). Changes and
   * failures are always written one by one. 0 writes every read separately. @default 1000
   */
  coalesceReadsMs?: number;
  /** Actions treated as reads. */
  readActions?: ReadonlySet<string>;
}

/** Actions that change nothing; a busy client polling them would otherwise cost one fsync'd log line each. */
export const READ_ACTIONS: ReadonlySet<string> = new Set([
  "config.read",
  "config.status",
  "config.versions",
  "config.version",
  "audit.read",
  "runs.list",
  "metrics.read",
]);

/**
 * The audit sink of a server; `flush` writes pending coalesced reads (called on close and before queries) and, with
 * a shared store, waits for the appends still on their way.
 */
export interface AuditLogSink extends AuditSink {
  flush(): Promise<void>;
}

/**
 * The workspace's audit trail (`.siteloom/audit.log`, or the shared store's chain) as the server's sink: entries join
 * the same hash chain the CLI writes. Besides the log's own fields they carry `source` (client address), `request`
 * (method and route) and, for coalesced reads, `count`.
 */
export function createAuditLogSink(trail: AuditTrail, options: AuditLogSinkOptions = {}): AuditLogSink {
  const windowMs = options.coalesceReadsMs ?? 1000;
  const reads = options.readActions ?? READ_ACTIONS;
  const pending = new Map<string, { entry: ServerAuditEntry; count: number; timer: NodeJS.Timeout }>();
  // appends to a shared store, in order; their failures are the caller's (awaited) or dropped with the window's
  let chain: Promise<unknown> = Promise.resolve();

  const write = (entry: ServerAuditEntry, count = 1) => {
    const input = {
      actor: entry.actor,
      action: entry.action,
      ref: entry.key ?? "",
      env: entry.env ?? "",
      outcome: entry.outcome,
      ...(entry.error ? { error: entry.error } : {}),
      ...(entry.version !== undefined ? { version: entry.version } : {}),
      ...(entry.source ? { source: entry.source } : {}),
      ...(entry.request ? { request: entry.request } : {}),
      ...(count > 1 ? { count } : {}),
    };
    if (trail.appendSync) return trail.appendSync(input).hash;
    const appended = chain.then(() => trail.append(input)).then((e) => e.hash);
    chain = appended.catch(() => undefined);
    trackPending(chain);
    return appended;
  };
  const settle = (key: string) => {
    const p = pending.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    pending.delete(key);
    // the first read of the window was written when it happened; this line records the repeats
    if (p.count > 0) void Promise.resolve(write(p.entry, p.count)).catch(() => undefined);
  };
  const sink: AuditLogSink = {
    append(entry) {
      if (windowMs <= 0 || entry.outcome !== "ok" || !reads.has(entry.action)) return write(entry);
      const key = JSON.stringify([entry.actor, entry.action, entry.key, entry.env, entry.source, entry.request]);
      const open = pending.get(key);
      if (open) {
        open.count++;
        return undefined;
      }
      const id = write(entry);
      const timer = setTimeout(() => settle(key), windowMs);
      timer.unref();
      pending.set(key, { entry, count: 0, timer });
      return id;
    },
    async query(filter) {
      await sink.flush();
      const since = filter.since ? new Date(filter.since) : undefined;
      const until = filter.until ? Date.parse(filter.until) : undefined;
      const rows = (await trail.read({ since, actor: filter.actor })) as unknown as AuditRecord[];
      const out = rows.filter(
        (row) =>
          (until === undefined || Date.parse(row.time) < until) &&
          (filter.key === undefined || String(row.ref).includes(filter.key)) &&
          (filter.action === undefined || String(row.action).startsWith(filter.action)),
      );
      return out.slice(-filter.limit);
    },
    async flush() {
      for (const key of [...pending.keys()]) settle(key);
      await chain;
    },
  };
  return sink;
}
