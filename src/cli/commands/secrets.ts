import type { RegisterCommands } from "../context.ts";

/** secrets ... (credential manager) */
export const registerSecretsCommands: RegisterCommands = (_program, _ctx) => {};
