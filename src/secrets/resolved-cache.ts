import pLimit, { type LimitFunction } from "p-limit";
import type { Secret } from "../secret.ts";

// The per-process cache of resolved references (resolver.ts), apart so that a store's writes can forget it
// without the store importing the resolver.

/** Single reads of one store in flight at once, whatever the number of callers (connection reuse, no flood). */
export const READS_IN_FLIGHT = 16;

/** Resolved values by workspace, store, environment and reference, with the time they were asked for. */
export const RESOLVED = new Map<string, { at: number; secret: Promise<Secret> }>();

/**
 * The prefetch of each store (workspace, store, environment): when its TTL window started, the references missed
 * in it, and the prefetch once started.
 */
export const PREFETCHED = new Map<string, { at: number; misses: number; done?: Promise<number> }>();

/** The read limiter of each store (workspace, store, environment); never cleared, a handful per process. */
export const READ_LIMITS = new Map<string, LimitFunction>();

/** The limiter of one store, made on first use. */
export function readLimit(storeKey: string): LimitFunction {
  let limit = READ_LIMITS.get(storeKey);
  if (!limit) {
    limit = pLimit(READS_IN_FLIGHT);
    READ_LIMITS.set(storeKey, limit);
  }
  return limit;
}

/** Drops every value resolved by this process: a store of this process wrote, or a test starts over. */
export function forgetResolvedSecrets(): void {
  RESOLVED.clear();
  PREFETCHED.clear();
}
