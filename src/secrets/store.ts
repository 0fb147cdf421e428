import type { SecretReference } from "../config/index.ts";
import { parseSecretReference } from "../config/index.ts";
import { isSiteloomError, SiteloomError } from "../errors.ts";
import { currentActor, type EventAction, publishEvent } from "../events.ts";
import { registerSecretValue, Secret } from "../secret.ts";
import { forgetResolvedSecrets } from "./resolved-cache.ts";
import type { SecretBackend, SecretInfo, SecretStoreApi, SecretVersionInfo, StoredValue } from "./types.ts";

export interface CreateSecretStoreOptions {
  /** Store name as configured (`file`, `env`, `ci`, ...). */
  name: string;
  /** Active environment; appears in messages and audit entries. */
  env: string;
  /** Who acts. @default SITELOOM_ACTOR or the OS user */
  actor?: string;
}

/** A configured store: the backend plus reference parsing, `Secret` values, clear errors and audit events. */
export interface SecretStore extends SecretStoreApi {
  readonly backend: SecretBackend;
  /** `get` that also publishes a `reveal` event (the CLI's `get --reveal`). */
  reveal(ref: string): Promise<Secret>;
  /** Like `get`, undefined when absent instead of an error. */
  find(ref: string): Promise<Secret | undefined>;
  /**
   * Reads the current value of every secret (of one scope) through the backend's `getAll` (a batched listing, or
   * one listing and parallel reads); later `get`s of those references use it. Returns how many were read (0
   * without a `getAll`).
   */
  prefetch(scope?: string): Promise<number>;
}

export function createSecretStore(backend: SecretBackend, options: CreateSecretStoreOptions): SecretStore {
  const { name, env } = options;
  const actor = options.actor ?? currentActor();
  const meta = { actor };

  // values of the last prefetch, read instead of one request per reference
  let prefetched = new Map<string, StoredValue>();

  async function audited<T>(action: EventAction, ref: string, fn: () => Promise<T>, version?: number): Promise<T> {
    try {
      const result = await fn();
      if (_WRITES.has(action)) {
        prefetched = new Map();
        forgetResolvedSecrets();
      }
      const v = typeof result === "number" ? result : version;
      publishEvent({ action, ref, store: name, env, actor, outcome: "ok", ...(v ? { version: v } : {}) });
      return result;
    } catch (error) {
      const code = isSiteloomError(error) ? error.code : "ERR_INTERNAL";
      const outcome =
        code === "ERR_SECRET_NOT_FOUND"
          ? "not-found"
          : code === "ERR_SECRET_LOCKED" ||
              code === "ERR_SECRET_READ_ONLY" ||
              code === "ERR_SECRET_DENIED" ||
              code === "ERR_PERMISSIONS"
            ? "denied"
            : "error";
      publishEvent({ action, ref, store: name, env, actor, outcome, error: code });
      if (code === "ERR_SECRET_LOCKED") {
        publishEvent({
          action: "unlock",
          ref: `store:${name}`,
          store: name,
          env,
          actor,
          outcome: "denied",
          error: code,
        });
      }
      throw error;
    }
  }

  function parse(ref: string): SecretReference {
    return parseSecretReference(ref);
  }

  function keyOf(ref: SecretReference): string {
    return `${ref.scope}/${ref.name}`;
  }

  function notSet(ref: SecretReference): SiteloomError {
    const key = keyOf(ref);
    if (ref.version !== undefined) {
      return new SiteloomError(
        "ERR_SECRET_NOT_FOUND",
        `version ${ref.version} of secret://${key} is not kept in store "${name}" (${env}); see siteloom secrets history secret://${key} --env ${env}`,
      );
    }
    const how = backend.capabilities.write
      ? `run siteloom secrets set ${key} --env ${env}`
      : (backend.howToSet?.(key) ?? `set it where store "${name}" reads from`);
    return new SiteloomError("ERR_SECRET_NOT_FOUND", `secret://${key} is not set in store "${name}" (${env}): ${how}`);
  }

  function writable(ref: SecretReference): void {
    if (backend.capabilities.write) return;
    const key = keyOf(ref);
    const how = backend.howToSet?.(key) ?? "set it where the store reads from";
    throw new SiteloomError(
      "ERR_SECRET_READ_ONLY",
      `store "${name}" (${backend.type}) is read-only: siteloom cannot change secret://${key}; to set it, ${how}`,
    );
  }

  function noVersion(ref: SecretReference, what: string): void {
    if (ref.version !== undefined) {
      throw new SiteloomError("ERR_REFERENCE_INVALID", `${what} takes a reference without ?version= (got ${ref.raw})`);
    }
  }

  async function read(refText: string, action: EventAction): Promise<Secret> {
    const ref = parse(refText);
    return audited(
      action,
      ref.raw,
      async () => {
        const found =
          (ref.version === undefined ? prefetched.get(keyOf(ref)) : undefined) ??
          (await backend.get(keyOf(ref), ref.version));
        if (!found) throw notSet(ref);
        return new Secret(found.value);
      },
      ref.version,
    );
  }

  const store: SecretStore = {
    name,
    type: backend.type,
    env,
    readOnly: !backend.capabilities.write,
    backend,
    get: (ref) => read(ref, "read"),
    reveal: (ref) => read(ref, "reveal"),
    async find(refText) {
      const ref = parse(refText);
      return audited("read", ref.raw, async () => {
        const found = await backend.get(keyOf(ref), ref.version);
        return found ? new Secret(found.value) : undefined;
      });
    },
    async set(refText, value) {
      const ref = parse(refText);
      noVersion(ref, "set");
      return audited("write", ref.raw, async () => {
        writable(ref);
        return backend.set!(keyOf(ref), _plain(value), meta);
      });
    },
    async rotate(refText, value) {
      const ref = parse(refText);
      noVersion(ref, "rotate");
      return audited("rotate", ref.raw, async () => {
        writable(ref);
        try {
          return await backend.rotate!(keyOf(ref), _plain(value), meta);
        } catch (error) {
          if (isSiteloomError(error) && error.code === "ERR_SECRET_NOT_FOUND") throw notSet(ref);
          throw error;
        }
      });
    },
    async rollback(refText, version) {
      const ref = parse(refText);
      noVersion(ref, "rollback");
      if (!Number.isInteger(version) || version < 1) {
        throw new SiteloomError("ERR_USAGE", `version must be a positive whole number (got ${version})`);
      }
      return audited("rollback", `${ref.raw}?version=${version}`, async () => {
        writable(ref);
        if (!(await backend.get(keyOf(ref)))) throw notSet(ref);
        return backend.rollback!(keyOf(ref), version, meta);
      });
    },
    async delete(refText) {
      const ref = parse(refText);
      noVersion(ref, "remove");
      return audited("delete", ref.raw, async () => {
        writable(ref);
        const done = await backend.delete!(keyOf(ref), meta);
        if (done === false) throw notSet(ref);
        return done;
      });
    },
    async prefetch(scope) {
      if (!backend.getAll) return 0;
      const all = await audited("list", `store:${name}${scope ? `/${scope}` : ""}`, () => backend.getAll!(scope));
      prefetched = all;
      return all.size;
    },
    async list(scope): Promise<SecretInfo[]> {
      return audited("list", `store:${name}${scope ? `/${scope}` : ""}`, () => backend.list(scope));
    },
    async history(refText): Promise<SecretVersionInfo[]> {
      const ref = parse(refText);
      return audited("history", ref.raw, async () => {
        const versions = await backend.history(keyOf(ref));
        if (versions.length === 0) throw notSet({ ...ref, version: undefined });
        return versions;
      });
    },
    async test() {
      return audited("unlock", `store:${name}`, () => backend.test());
    },
  };
  return store;
}

// --- internal ---

/** Actions after which values read before may be stale. */
const _WRITES = new Set<EventAction>(["write", "rotate", "rollback", "delete"]);

function _plain(value: string | Secret): string {
  const plain = typeof value === "string" ? value : value.reveal();
  if (plain === "") throw new SiteloomError("ERR_USAGE", "a secret value cannot be empty");
  registerSecretValue(plain);
  return plain;
}
