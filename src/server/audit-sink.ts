import { appendAuditEntry, readAuditLog } from "../audit/index.ts";
import type { AuditRecord, AuditSink, ServerAuditEntry } from "./ports.ts";

/**
 * The workspace's audit log (`.siteloom/audit.log`) as the server's sink: entries join the same hash chain the CLI
 * writes. Besides the log's own fields they carry `source` (client address) and `request` (method and route).
 */
export function createAuditLogSink(file: string): AuditSink {
  return {
    append(entry: ServerAuditEntry) {
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
      };
      appendAuditEntry(file, input);
    },
    query(filter) {
      const since = filter.since ? new Date(filter.since) : undefined;
      const until = filter.until ? Date.parse(filter.until) : undefined;
      const rows = readAuditLog(file, { since, actor: filter.actor }) as unknown as AuditRecord[];
      const out = rows.filter(
        (row) =>
          (until === undefined || Date.parse(row.time) < until) &&
          (filter.key === undefined || String(row.ref).includes(filter.key)) &&
          (filter.action === undefined || String(row.action).startsWith(filter.action)),
      );
      return out.slice(-filter.limit);
    },
  };
}
