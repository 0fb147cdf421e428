export type { AuditEntry, AuditInput, ReadAuditOptions, VerifyResult } from "./log.ts";
export { appendAuditEntry, readAuditLog, verifyAuditLog } from "./log.ts";
export { attachAuditLog, attachWorkspaceAudit, auditLogPath } from "./subscribe.ts";
