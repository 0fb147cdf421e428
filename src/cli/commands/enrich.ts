import type { RegisterCommands } from "../context.ts";

/** enrich (site enrichment) */
export const registerEnrichCommands: RegisterCommands = (_program, _ctx) => {};
