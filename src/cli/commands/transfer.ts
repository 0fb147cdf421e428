import type { RegisterCommands } from "../context.ts";

/** export, deploy (transfer) */
export const registerTransferCommands: RegisterCommands = (_program, _ctx) => {};
