import type { RegisterCommands } from "../context.ts";

/** init, site add|list|show|remove (foundation) */
export const registerWorkspaceCommands: RegisterCommands = (_program, _ctx) => {};
