import type { Secret } from "../secret.ts";

// The per-process cache of resolved references (resolver.ts), apart so that a store's writes can forget it
// without the store importing the resolver.

/** Resolved values by workspace, store, environment and reference, with the time they were asked for. */
export const RESOLVED = new Map<string, { at: number; secret: Promise<Secret> }>();

/** The batched prefetch of each store (workspace, store, environment) and when it started. */
export const PREFETCHED = new Map<string, { at: number; done: Promise<number> }>();

/** Drops every value resolved by this process: a store of this process wrote, or a test starts over. */
export function forgetResolvedSecrets(): void {
  RESOLVED.clear();
  PREFETCHED.clear();
}
