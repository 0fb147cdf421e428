import type { RegisterCommands } from "../context.ts";

/** config show|validate|schema (foundation) */
export const registerConfigCommands: RegisterCommands = (_program, _ctx) => {};
