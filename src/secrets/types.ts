import type { Secret } from "../secret.ts";

/** `<scope>/<NAME>`: how a secret is addressed inside a store (the reference without scheme and version). */
export type SecretKey = string;

/** One stored version of a secret, without its value. */
export interface SecretVersionInfo {
  version: number;
  /** ISO time the version was written. */
  createdAt: string;
  /** Who wrote it (OS user, or CI). */
  actor: string;
  /** The version this one was copied from by `rollback`, if any. */
  rolledBackFrom?: number;
  /** Set when the service keeps the version but will not give its value ("disabled", "destroyed"). */
  state?: string;
}

/** What `list` shows about a secret: never its value. */
export interface SecretInfo {
  scope: string;
  name: string;
  /** Current version number (1 for read-only backends without history). */
  version: number;
  createdAt: string | undefined;
  updatedAt: string | undefined;
  /** Where a read-only backend found it (variable or file name); never the value. */
  source?: string;
}

/** A value read from a backend, with its version. */
export interface StoredValue {
  value: string;
  version: number;
}

/** Who is doing a write; recorded with each version. */
export interface WriteMeta {
  actor: string;
}

/**
 * A storage backend: one file under `src/secrets/backends/`, built by a `BackendFactory`. Backends see plain keys and
 * strings; `SecretStore` wraps them, parses references, hands out `Secret` objects and publishes audit events.
 */
export interface SecretBackend {
  /** Backend type: "file", "env", ... */
  readonly type: string;
  readonly capabilities: {
    write: boolean;
    list: boolean;
    history: boolean;
    /** False when the service keeps no per-version author (history then shows the backend type as actor). */
    actors?: boolean;
    /** Largest value the service stores, in UTF-8 bytes, when it is below 64 KiB. */
    maxValueBytes?: number;
    /**
     * True when `getAll` reads many values per request (a batched read), so prefetching saves requests. Without it
     * a `getAll` lists once and reads the values in parallel: it saves time, not requests, and a resolver uses it
     * only once many references of the store were asked for.
     */
    batchRead?: boolean;
    /**
     * True when the service hands values back only where they are used (DigitalOcean: inside the app); elsewhere
     * a read of a set secret fails, and `secrets copy` writes it again instead of comparing.
     */
    writeOnly?: boolean;
  };
  /** The value of a key (the current version, or `version`), or undefined when absent. */
  get(key: SecretKey, version?: number): Promise<StoredValue | undefined>;
  /** Metadata of every secret, optionally of one scope. */
  list(scope?: string): Promise<SecretInfo[]>;
  /** Versions of a key, oldest first; empty when absent. */
  history(key: SecretKey): Promise<SecretVersionInfo[]>;
  /**
   * Current values of every secret (of one scope) in as few requests as the service allows (a batched read, or one
   * listing and the values in parallel): resolvers prefetch with it instead of one read per reference.
   */
  getAll?(scope?: string): Promise<Map<SecretKey, StoredValue>>;
  /** Writes a new version (version 1 for a new key); returns its number. */
  set?(key: SecretKey, value: string, meta: WriteMeta): Promise<number>;
  /** Writes a new version only when the key exists (rotation); returns its number. */
  rotate?(key: SecretKey, value: string, meta: WriteMeta): Promise<number>;
  /** Restores an old version as a new one; returns the new number. */
  rollback?(key: SecretKey, version: number, meta: WriteMeta): Promise<number>;
  /**
   * Removes a key and its history; returns what was done, in one line for the user ("deleted with every version;
   * not recoverable", "soft-deleted; recoverable until ..."), or false when the key was absent.
   */
  delete?(key: SecretKey, meta: WriteMeta): Promise<string | false>;
  /** Reachability / unlock check; returns a one-line description of what was checked. */
  test(): Promise<string>;
  /** How a user sets a value in a read-only backend (for the read-only error). */
  howToSet?(key: SecretKey): string;
  /** One line describing where the data lives (a file path, "environment and /run/secrets"). */
  describe(): string;
  dispose?(): Promise<void>;
}

export type BackendFactory<O> = (options: O) => SecretBackend;

/** The public face of a configured store. */
export interface SecretStoreApi {
  readonly name: string;
  readonly type: string;
  readonly env: string;
  readonly readOnly: boolean;
  get(ref: string): Promise<Secret>;
  set(ref: string, value: string | Secret): Promise<number>;
  /** Removes a secret and its history; returns what the backend did (recoverable or not, and until when). */
  delete(ref: string): Promise<string>;
  list(scope?: string): Promise<SecretInfo[]>;
  history(ref: string): Promise<SecretVersionInfo[]>;
  rotate(ref: string, value: string | Secret): Promise<number>;
  rollback(ref: string, version: number): Promise<number>;
  test(): Promise<string>;
}
