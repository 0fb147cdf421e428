import type { RegisterCommands } from "../context.ts";

/** audit, audit verify (credential manager) */
export const registerAuditCommands: RegisterCommands = (_program, _ctx) => {};
