import type { RegisterCommands } from "../context.ts";

/** generate, costs (article generation) */
export const registerGenerateCommands: RegisterCommands = (_program, _ctx) => {};
