import type pg from "pg";

/**
 * node-postgres, loaded on first use: only a PostgreSQL store, its listener or its call limiter needs it, and
 * loading it (with the pieces of Node it pulls in) costs every CLI command ~0.1 s of start-up otherwise.
 */
export function loadPg(): Promise<typeof pg> {
  _loading ??= import("pg").then((mod) => mod.default);
  return _loading;
}

// --- internal ---

let _loading: Promise<typeof pg> | undefined;
