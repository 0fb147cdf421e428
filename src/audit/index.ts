export type { AuditEntry, AuditInput, ReadAuditOptions, VerifyResult } from "./log.ts";
export { appendAuditEntry, GENESIS, hashEntry, headPath, readAuditLog, verifyAuditLog } from "./log.ts";
export { attachAuditLog, attachWorkspaceAudit, auditLogPath } from "./subscribe.ts";
