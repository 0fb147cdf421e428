import type { SecretReference, SecretResolver } from "../config/index.ts";
import type { Secret } from "../secret.ts";
import { type OpenStoreOptions, openSecretStore, type SecretsWorkspace } from "./registry.ts";
import { PREFETCHED, RESOLVED, readLimit } from "./resolved-cache.ts";
import type { SecretStore } from "./store.ts";

/** How long a resolved value is reused by this process before its store is asked again. */
export const SECRET_CACHE_TTL_MS = 60_000;

/**
 * Misses in one TTL window after which a store without a batched read (one listing, then parallel reads) is
 * prefetched: a run of one site asks for a few references and reads only those; a run over many sites reads the
 * rest in parallel instead of one after another.
 */
export const PREFETCH_AFTER_MISSES = 8;

export interface SecretResolverOptions extends OpenStoreOptions {
  /** How long this process reuses a resolved value (0: ask the store every time). @default SECRET_CACHE_TTL_MS */
  ttlMs?: number;
  /** Clock, in ms (tests). @default Date.now */
  now?: () => number;
}

/**
 * The `SecretResolver` the workspace loader uses for `secret://` references: the default store of the active
 * environment, opened on first use. Values come back as `Secret` objects and never enter a config object.
 *
 * Resolved values are shared by every resolver of the process for `ttlMs` (a server builds one resolver per run;
 * a cloud store would otherwise be asked again each time), keyed by workspace, store, environment and reference. A
 * write through any store of this process forgets them all. Where the service reads many secrets in one request
 * (AWS `BatchGetSecretValue`), the first miss of a TTL window prefetches the whole store with that batched listing,
 * so resolving the references of 100 sites takes a handful of requests instead of 100. Where it can only list and
 * read one by one (Secret Manager, Key Vault), the `PREFETCH_AFTER_MISSES`th miss prefetches the store with
 * parallel reads. Single reads of one store are at most `READS_IN_FLIGHT` at once.
 */
export function createSecretResolver(workspace: SecretsWorkspace, options: SecretResolverOptions = {}): SecretResolver {
  const { ttlMs = SECRET_CACHE_TTL_MS, now = Date.now, ...openOptions } = options;
  let opened: Promise<SecretStore> | undefined;
  const open = () => {
    opened ??= openSecretStore(workspace, openOptions);
    opened.catch(() => {
      opened = undefined;
    });
    return opened;
  };
  return {
    async resolve(ref: SecretReference): Promise<Secret> {
      const store = await open();
      const storeKey = [workspace.root, store.name, store.env].join("\0");
      const key = `${storeKey}\0${ref.raw}`;
      const at = now();
      const hit = RESOLVED.get(key);
      if (hit && at - hit.at < ttlMs) return hit.secret;
      const secret = (async () => {
        if (ref.version === undefined && store.backend.getAll) {
          let window = PREFETCHED.get(storeKey);
          if (!window || at - window.at >= ttlMs) {
            window = { at, misses: 0 };
            PREFETCHED.set(storeKey, window);
          }
          window.misses += 1;
          const due = store.backend.capabilities.batchRead ? 1 : PREFETCH_AFTER_MISSES;
          // a refused or failed prefetch is not fatal: the single read below reports what is wrong
          if (!window.done && window.misses >= due) window.done = store.prefetch().catch(() => 0);
          if (window.done) await window.done;
        }
        return readLimit(storeKey)(() => store.get(ref.raw));
      })();
      if (ttlMs > 0) {
        RESOLVED.set(key, { at, secret });
        // a failure is not kept: the user may set the secret and a long-lived process retries
        secret.catch(() => RESOLVED.delete(key));
      }
      return secret;
    },
  };
}
