export type { AuditEntry, AuditInput, ReadAuditOptions, VerifyResult } from "./log.ts";
export { appendAuditEntry, readAuditLog, verifyAuditLog } from "./log.ts";
export { attachAuditLog, attachAuditTrail, attachWorkspaceAudit } from "./subscribe.ts";
export {
  type AuditTrail,
  auditLogPath,
  auditTrailOf,
  createFileAuditTrail,
  createStoreAuditTrail,
  type StoreAuditTrailOptions,
} from "./trail.ts";
