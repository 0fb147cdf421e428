import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { SiteloomError } from "../../errors.ts";
import { removeStaleTempFiles, writePrivateFile } from "../../files.ts";
import { registerSecretValue } from "../../secret.ts";
import { type BackendCreate, memoize } from "../define.ts";
import { ensurePrivateDir, lostLockError, withFileLock } from "../fs-util.ts";
import { defaultIdentityPath, type LoadedIdentity, loadIdentity } from "../identity.ts";
import { explainMissing, explainUnopenable, writeSeal } from "../seal.ts";
import type { SecretBackend, SecretInfo, SecretVersionInfo, WriteMeta } from "../types.ts";
import type { FileStoreSchema } from "./descriptors/file.ts";

export interface FileBackendOptions {
  /** Absolute path of the store (`.siteloom/secrets.<env>.age`). */
  path: string;
  /** Environment the store belongs to; recorded inside it and checked when it is opened. */
  env: string;
  /** Returns the X25519 identity (undefined when there is none yet). Not called in passphrase mode. */
  identity?: () => Promise<LoadedIdentity | undefined>;
  /** Returns the passphrase; set for a passphrase (scrypt) store. */
  passphrase?: () => Promise<string>;
  /**
   * Recipients from the configuration. They are taken when the store is created; an existing store is encrypted
   * only to the recipients recorded in it, and one listed here but not recorded refuses the write: a recipient is
   * added with `updateRecipients` (`siteloom secrets recipients add`), which needs the store's identity.
   */
  recipients?: string[];
  /** Previous versions kept per secret. @default 10 */
  historySize?: number;
  /** scrypt work factor (log2) for passphrase stores. @default 18 */
  scryptWorkFactor?: number;
  /** Where the identity is looked for, named in the "no identity" error. */
  identityHint?: string;
  /** A lock not refreshed for this long is taken over (its holder was killed). @default 10000 */
  lockStaleMs?: number;
}

/** One version as stored inside the encrypted file. */
interface StoredVersion extends SecretVersionInfo {
  value: string;
}

/** The decrypted content of a store file. */
export interface StorePayload {
  format: "siteloom-secrets/1";
  env: string;
  /** X25519 recipients the store is encrypted to (empty for a passphrase store). */
  recipients: string[];
  secrets: Record<string, { versions: StoredVersion[] }>;
}

/** The file store's extra operations (recipients management, raw payload for copy/export). */
export interface FileBackend extends SecretBackend {
  readonly path: string;
  /** True when the store file exists. */
  exists(): boolean;
  /** Creates an empty store (refuses an existing one). */
  init(): Promise<void>;
  recipients(): Promise<string[]>;
  /** Adds (or removes) recipients and re-encrypts the store. */
  updateRecipients(add: string[], remove: string[]): Promise<string[]>;
}

const FORMAT = "siteloom-secrets/1";

/** The default backend: the whole store as one standard age file, recoverable with the `age` CLI alone. */
export function createFileBackend(options: FileBackendOptions): FileBackend {
  const path = options.path;
  const historySize = options.historySize ?? 10;
  let cache: { key: string; payload: StorePayload } | undefined;

  async function read(): Promise<StorePayload | undefined> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      // never created is an empty store; deleted after siteloom wrote it is an error, not "secret not set"
      const missing = await explainMissing(path);
      if (missing) throw new SiteloomError("ERR_SECRET_CORRUPT", missing);
      return undefined;
    }
    const key = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    if (cache?.key === key) return cache.payload;
    const bytes = new Uint8Array(await readFile(path));
    const payload = await _decrypt(bytes, path, options);
    cache = { key, payload };
    return payload;
  }

  /** Encrypts and replaces the file; `beforeCommit` runs with the new file written, right before the rename. */
  async function write(payload: StorePayload, created: boolean, beforeCommit?: () => Promise<void>): Promise<void> {
    const { Encrypter } = await _age();
    const encrypter = new Encrypter();
    if (options.passphrase) {
      encrypter.setPassphrase(await options.passphrase());
      if (options.scryptWorkFactor) encrypter.setScryptWorkFactor(options.scryptWorkFactor);
      payload.recipients = [];
    } else {
      const own = await _identity(options, path);
      const configured = options.recipients ?? [];
      const unknown = configured.filter((r) => !payload.recipients.includes(r) && !own.recipients.includes(r));
      if (!created && unknown.length > 0) {
        throw new SiteloomError(
          "ERR_CONFIG_INVALID",
          `siteloom.yaml lists recipient ${unknown.join(", ")} that ${path} (${options.env}) is not encrypted to; nothing was written. A recipient is added only by someone holding the store's identity: siteloom secrets recipients add ${unknown[0]} --env ${options.env}`,
        );
      }
      const all = [...new Set([...own.recipients, ...payload.recipients, ...configured])];
      for (const r of all) {
        try {
          encrypter.addRecipient(r);
        } catch {
          throw new SiteloomError("ERR_CONFIG_INVALID", `invalid age recipient "${r}" (expected age1...)`);
        }
      }
      payload.recipients = all;
    }
    const bytes = await encrypter.encrypt(JSON.stringify(payload));
    await ensurePrivateDir(dirname(path));
    await removeStaleTempFiles(dirname(path));
    await writeSeal(path, options.env, bytes, await readFile(path).catch(() => undefined));
    // checked with the new file complete on disk, right before the rename: the smallest window a stall can hit
    await writePrivateFile(path, bytes, beforeCommit ? { beforeRename: beforeCommit } : {});
    cache = undefined;
  }

  /** Read-modify-write under the store's lock: concurrent writers never lose an update. */
  async function mutate<T>(fn: (payload: StorePayload) => T): Promise<T> {
    await ensurePrivateDir(dirname(path));
    return withFileLock(
      path,
      async (lock) => {
        cache = undefined;
        const stamp = await _stamp(path);
        const existing = await read();
        const payload = existing ?? _empty(options.env);
        const result = fn(payload);
        // the version read under the lock must still be the file's: a stalled holder whose lock was taken over
        // would otherwise replace a newer store with its older one plus its change (a lost update)
        await write(payload, existing === undefined, async () => {
          lock.assertHeld();
          if ((await _stamp(path)) !== stamp) throw lostLockError(path, options.lockStaleMs ?? 10_000);
        });
        return result;
      },
      options.lockStaleMs,
    );
  }

  function addVersion(payload: StorePayload, key: string, value: string, meta: WriteMeta, from?: number): number {
    payload.secrets[key] ??= { versions: [] };
    const entry = payload.secrets[key];
    const last = entry.versions.at(-1);
    const version = (last?.version ?? 0) + 1;
    const v: StoredVersion = { version, value, createdAt: new Date().toISOString(), actor: meta.actor };
    if (from !== undefined) v.rolledBackFrom = from;
    entry.versions.push(v);
    if (entry.versions.length > historySize + 1) entry.versions.splice(0, entry.versions.length - historySize - 1);
    return version;
  }

  return {
    type: "file",
    path,
    capabilities: { write: true, list: true, history: true },
    describe: () => path,
    exists: () => existsSync(path),
    async init() {
      if (existsSync(path)) {
        throw new SiteloomError("ERR_SECRET_BACKEND", `store ${path} already exists`);
      }
      await mutate(() => undefined);
    },
    async get(key, version) {
      const entry = (await read())?.secrets[key];
      if (!entry) return undefined;
      const found = version === undefined ? entry.versions.at(-1) : entry.versions.find((v) => v.version === version);
      return found ? { value: found.value, version: found.version } : undefined;
    },
    async list(scope) {
      const payload = await read();
      if (!payload) return [];
      const out: SecretInfo[] = [];
      for (const [key, entry] of Object.entries(payload.secrets)) {
        const [s = "", name = ""] = key.split("/");
        if (scope !== undefined && s !== scope) continue;
        const last = entry.versions.at(-1);
        if (!last) continue;
        out.push({
          scope: s,
          name,
          version: last.version,
          createdAt: entry.versions[0]?.createdAt,
          updatedAt: last.createdAt,
        });
      }
      return out.sort((a, b) => `${a.scope}/${a.name}`.localeCompare(`${b.scope}/${b.name}`));
    },
    async history(key) {
      const entry = (await read())?.secrets[key];
      return (entry?.versions ?? []).map(({ value: _v, ...info }) => info);
    },
    async set(key, value, meta) {
      return mutate((p) => addVersion(p, key, value, meta));
    },
    async rotate(key, value, meta) {
      return mutate((p) => {
        if (!p.secrets[key]?.versions.length) throw _notFound(key);
        return addVersion(p, key, value, meta);
      });
    },
    async rollback(key, version, meta) {
      return mutate((p) => {
        const entry = p.secrets[key];
        if (!entry?.versions.length) throw _notFound(key);
        const old = entry.versions.find((v) => v.version === version);
        if (!old) {
          const known = entry.versions.map((v) => v.version).join(", ");
          throw new SiteloomError(
            "ERR_SECRET_NOT_FOUND",
            `version ${version} of ${key} is not kept (kept versions: ${known}); see siteloom secrets history secret://${key}`,
          );
        }
        return addVersion(p, key, old.value, meta, version);
      });
    },
    async delete(key) {
      const had = await mutate((p) => {
        const had = key in p.secrets;
        delete p.secrets[key];
        return had;
      });
      return had && `deleted with every version from ${path}; not recoverable (the store keeps no deleted secrets)`;
    },
    async test() {
      if (!existsSync(path)) {
        throw new SiteloomError("ERR_SECRET_NOT_FOUND", `store ${path} does not exist; run siteloom secrets init`);
      }
      cache = undefined;
      const payload = await read();
      const n = Object.keys(payload?.secrets ?? {}).length;
      return `${path}: unlocked, ${n} secret${n === 1 ? "" : "s"}`;
    },
    async recipients() {
      return (await read())?.recipients ?? [];
    },
    async updateRecipients(add, remove) {
      if (options.passphrase) {
        throw new SiteloomError("ERR_USAGE", `${path} is encrypted with a passphrase; it has no recipients to change`);
      }
      const own = (await _identity(options, path)).recipients;
      for (const r of remove) {
        if (own.includes(r)) {
          throw new SiteloomError(
            "ERR_USAGE",
            `${r} is your own identity; removing it would lock you out (use another identity to remove it)`,
          );
        }
      }
      // the union with our own key is taken in write(); removal must happen on the list written
      return mutate((p) => {
        p.recipients = [...new Set([...p.recipients, ...add])].filter((r) => !remove.includes(r));
        const configured = (options.recipients ?? []).filter((r) => remove.includes(r));
        if (configured.length) {
          throw new SiteloomError(
            "ERR_USAGE",
            `${configured.join(", ")} is listed in secrets.stores.*.recipients of siteloom.yaml; remove it there`,
          );
        }
        return p.recipients;
      });
    },
  };
}

/** Builds this backend from its `secrets.stores` entry (the registry calls it; descriptors/file.ts holds the options). */
export const create: BackendCreate<typeof FileStoreSchema> = (config, ctx) => {
  const { vars, env, root } = ctx;
  const where = { root, env, identityFile: config.identityFile, vars };
  return createFileBackend({
    path: resolve(root, config.path.replaceAll("{env}", env)),
    env,
    historySize: ctx.historySize,
    recipients: config.recipients,
    identity: memoize(() => loadIdentity(where)),
    identityHint: defaultIdentityPath(where),
    ...(config.passphrase
      ? {
          passphrase: memoize(async () => {
            if (vars.SITELOOM_AGE_PASSPHRASE) return vars.SITELOOM_AGE_PASSPHRASE;
            if (ctx.askPassphrase) return ctx.askPassphrase(`Passphrase for the ${env} secret store: `);
            throw new SiteloomError(
              "ERR_SECRET_LOCKED",
              `the ${env} store "${ctx.store}" is encrypted with a passphrase: set SITELOOM_AGE_PASSPHRASE or run on a terminal to be asked`,
            );
          }),
        }
      : {}),
    ...(ctx.scryptWorkFactor ? { scryptWorkFactor: ctx.scryptWorkFactor } : {}),
  });
};

// --- internal ---

/** Identity of the file's current version: any replacement (atomic rename) changes the inode. */
async function _stamp(path: string): Promise<string> {
  try {
    const info = await stat(path);
    return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
  } catch {
    return "absent";
  }
}

function _empty(env: string): StorePayload {
  return { format: FORMAT, env, recipients: [], secrets: {} };
}

function _notFound(key: string): SiteloomError {
  return new SiteloomError("ERR_SECRET_NOT_FOUND", `secret://${key} is not set`);
}

async function _identity(options: FileBackendOptions, path: string): Promise<LoadedIdentity> {
  const id = options.identity ? await options.identity() : undefined;
  if (!id) {
    const where = options.identityHint ? ` (looked for ${options.identityHint})` : "";
    const fix = existsSync(path)
      ? "set SITELOOM_AGE_IDENTITY / SITELOOM_AGE_IDENTITY_FILE to the key that opens it (the default key file name comes from the workspace path: after moving the workspace, rename the key file)"
      : `run siteloom secrets init --env ${options.env}, or set SITELOOM_AGE_IDENTITY / SITELOOM_AGE_IDENTITY_FILE`;
    throw new SiteloomError("ERR_SECRET_LOCKED", `no age identity to open ${path} (${options.env})${where}: ${fix}`);
  }
  return id;
}

async function _decrypt(bytes: Uint8Array, path: string, options: FileBackendOptions): Promise<StorePayload> {
  const header = Buffer.from(bytes.subarray(0, 4096)).toString("latin1");
  if (bytes.length === 0) {
    throw new SiteloomError("ERR_SECRET_CORRUPT", `${path} is empty (truncated); restore it from a backup`);
  }
  if (!header.startsWith("age-encryption.org/v1\n")) {
    throw new SiteloomError(
      "ERR_SECRET_CORRUPT",
      `${path} is not an age file (damaged or replaced); restore it from a backup`,
    );
  }
  const isPassphrase = header.includes("\n-> scrypt ");
  const { Decrypter } = await _age();
  const decrypter = new Decrypter();
  let source: string;
  if (isPassphrase) {
    if (!options.passphrase) {
      throw new SiteloomError(
        "ERR_SECRET_LOCKED",
        `${path} is encrypted with a passphrase, but the store is configured for keys; set passphrase: true for it in siteloom.yaml`,
      );
    }
    decrypter.addPassphrase(await options.passphrase());
    source = "passphrase";
  } else {
    const id = await _identity(options, path);
    for (const i of id.identities) decrypter.addIdentity(i);
    source = `${id.source} (${id.recipients.join(", ")})`;
  }
  let text: string;
  try {
    text = await decrypter.decrypt(bytes, "text");
  } catch (error) {
    const message = (error as Error).message ?? "";
    if (message.includes("no identity matched")) {
      const changed = await explainUnopenable(path, options.env, bytes);
      if (changed) throw new SiteloomError("ERR_SECRET_CORRUPT", changed, { cause: error });
      throw new SiteloomError(
        "ERR_SECRET_LOCKED",
        isPassphrase
          ? `wrong passphrase for ${path}`
          : `wrong key: the identity ${source} is not a recipient of ${path} (${options.env}) (or that recipient's header line is damaged); use the identity of that environment, or ask someone who can open it to run siteloom secrets recipients add <your age1... key> --env ${options.env}`,
        { cause: error },
      );
    }
    if (/invalid (version|header|stanza)|stanza/.test(message)) {
      throw new SiteloomError(
        "ERR_SECRET_CORRUPT",
        `${path} has a damaged age header (tampered or truncated); restore it from a backup`,
        { cause: error },
      );
    }
    if (message.includes("HMAC")) {
      throw new SiteloomError(
        "ERR_SECRET_CORRUPT",
        `${path} failed its header check (the header was tampered with); restore it from a backup`,
        { cause: error },
      );
    }
    throw new SiteloomError(
      "ERR_SECRET_CORRUPT",
      `${path} failed authentication of its content (tampered or truncated); no data was read from it; restore it from a backup`,
      { cause: error },
    );
  }
  let payload: StorePayload;
  try {
    payload = JSON.parse(text) as StorePayload;
  } catch (error) {
    throw new SiteloomError("ERR_SECRET_CORRUPT", `${path} decrypted but does not hold a siteloom store`, {
      cause: error,
    });
  }
  if (payload.format !== FORMAT || typeof payload.secrets !== "object" || payload.secrets === null) {
    throw new SiteloomError("ERR_SECRET_CORRUPT", `${path} decrypted but does not hold a siteloom store`);
  }
  if (payload.env !== options.env) {
    throw new SiteloomError(
      "ERR_SECRET_LOCKED",
      `${path} is the store of environment "${payload.env}", not "${options.env}"; it must not be used for ${options.env}`,
    );
  }
  payload.recipients ??= [];
  for (const entry of Object.values(payload.secrets)) for (const v of entry.versions) registerSecretValue(v.value);
  return payload;
}

/** age-encryption and its post-quantum code take ~50 ms to load: only commands that open the store pay for it. */
function _age(): Promise<typeof import("age-encryption")> {
  return import("age-encryption");
}
