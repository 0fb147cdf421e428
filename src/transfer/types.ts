// The RemoteFS contract every backend keeps (resume, unsafe entries, error codes, pool retries): docs/transfer.md.
import type { Readable } from "node:stream";

/** One entry of a remote directory listing. Names are single path segments, already checked for safety. */
export interface RemoteEntry {
  name: string;
  type: "file" | "dir" | "symlink";
  size: number;
  /** Modification time (ms since epoch) when the server reports one. */
  mtime: number | undefined;
  /** Symlink target, when known. */
  target?: string;
}

/**
 * The only thing that talks to a host. Paths are POSIX, relative to the configured remote root ("" is the root);
 * implementations refuse anything that would leave the root.
 */
export interface RemoteFS {
  readonly protocol: "ftp" | "ftps" | "sftp" | "local";
  list(dir: string): Promise<RemoteEntry[]>;
  /**
   * Several listings at once, where the protocol can ask for them together (FTP without MLSD: one round trip);
   * undefined when this connection cannot (list them one by one). A folder that cannot be listed is a rejected
   * result of its own; a lost connection rejects the whole call.
   */
  listMany?(dirs: readonly string[]): Promise<PromiseSettledResult<RemoteEntry[]>[] | undefined>;
  /** undefined when the path does not exist. */
  stat(path: string): Promise<RemoteEntry | undefined>;
  /**
   * Downloads into a local file (the caller renames it into place). With `maxBytes`, a download that grows past it is
   * cut off while it streams and fails with ERR_TRANSFER_LIMIT (the partial file is removed).
   */
  download(path: string, localFile: string, options?: DownloadOptions): Promise<void>;
  /** Reads a small file fully (manifests); undefined when missing. */
  read(path: string): Promise<Buffer | undefined>;
  /** Uploads a local file or a stream; `startAt` resumes a partial upload where the server supports it. */
  upload(source: string | Readable, path: string, options?: { startAt?: number }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /**
   * Optional: the backup root (the backend's `backupRoot` option, a folder outside the root) over the same connection:
   * where a deploy keeps the versions it replaces or deletes (`deploy.backupDir`).
   */
  readonly backups?: BackupView;
  remove(path: string): Promise<void>;
  removeDir(path: string): Promise<void>;
  /** Optional: removes a directory only when it is empty (one round trip: FTP RMD, SFTP RMDIR); fails otherwise. */
  removeEmptyDir?(path: string): Promise<void>;
  /** Creates the directory and its parents; no error when it exists. */
  mkdir(path: string): Promise<void>;
  /**
   * Optional, for protocols where round trips dominate: the whole atomic upload of one local file — to the temp name
   * `temp`, then (with `expectedSize`) a check of the size the server holds, then a rename over `path` — in as few
   * round trips as the protocol allows. Callers without it do upload, stat and rename.
   */
  put?(source: string | Readable, temp: string, path: string, options?: PutOptions): Promise<void>;
  /** Optional: sends what `put` with `onPlaced` left pending (the last rename) and waits for it. */
  flush?(): Promise<void>;
  /** Optional: creates directories whose parents exist or come earlier in `paths`, in as few round trips as possible. */
  mkdirMany?(paths: string[]): Promise<void>;
  /**
   * Optional: true once the connection is known to be gone (a server that closes idle control connections sends
   * "421" and closes): the pool replaces it instead of lending it out.
   */
  readonly closed?: boolean;
  /**
   * Optional: operations this connection carries at once (SFTP multiplexes requests on one session; FTP has one
   * transfer per control connection). The pool lends it out that many times. @default 1
   */
  readonly lanes?: number;
  close(): Promise<void>;
}

/** A second root over a connection, for backups: confined to it as strictly as the site is to its root. */
export interface BackupView {
  /** The backup root as configured: absolute, or relative to the login folder. */
  readonly root: string;
  /** The same connection, confined to the backup root: its paths are relative to it. */
  readonly fs: RemoteFS;
  /** Moves the file `from` (relative to the root) to `to` (relative to the backup root; its folder exists). */
  moveIn(from: string, to: string): Promise<void>;
  /** Moves the file `from` (relative to the backup root) back to `to` (relative to the root). */
  moveOut(from: string, to: string): Promise<void>;
}

export interface DownloadOptions {
  /** Bytes the server may send at most (what its listing announced); more is refused while streaming. */
  maxBytes?: number;
}

export interface PutOptions {
  /** Checked on the server before the rename; a mismatch fails the put and leaves `path` as it was. */
  expectedSize?: number;
  /**
   * Defer the rename: `put` returns once the temp file is verified, and the rename goes out with the connection's next
   * command batch (saving a round trip per file), or on `flush`. Called once the rename is done, or with the error
   * when it failed or the session broke before its reply (then whether it happened is unknown: upload again).
   */
  onPlaced?: (error?: Error) => void;
  /**
   * Moves the file now at `path` to this path (relative to the root; its folder exists) just before the temp file is
   * renamed over it: a deploy's backup of the version it replaces. A file missing at `path` has nothing to keep; when
   * the final rename fails, the kept version goes back. Not combined with `onPlaced`.
   */
  keepPrevious?: string;
  /** What `keepPrevious` is relative to: the root, or the backup root (`RemoteFS.backups`). @default "root" */
  keepIn?: "root" | "backups";
}

/**
 * A pool of N logged-in connections (FTP allows one transfer per control connection). `run` borrows a connection;
 * a connection whose operation failed with a connection-level error (421, reset, timeout, TLS) is discarded and
 * replaced lazily, so a dead slot never stalls the run. Operation-level errors (550 etc.) are rethrown as they are.
 */
export interface RemotePool {
  /** Operations at once: connections at most × the lanes of one connection (1 until a connection is open). */
  readonly size: number;
  run<T>(fn: (fs: RemoteFS) => Promise<T>): Promise<T>;
  /** Starts logging in connections (up to `count` in all) in the background, for work about to come. */
  prewarm(count: number): void;
  /** Runs `fn` on every open connection that is not busy (e.g. to flush deferred work), waiting for all. */
  each(fn: (fs: RemoteFS) => Promise<void>): Promise<void>;
  /** Connections opened so far (initial + replacements), for statistics. */
  readonly connectionsOpened: number;
  close(): Promise<void>;
}
