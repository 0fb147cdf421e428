import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type SftpClient from "ssh2-sftp-client";
import { SiteloomError } from "../errors.ts";
import { printable } from "../printable.ts";
import type { Secret } from "../secret.ts";
import { recordHostKey, verifyHostKey } from "./known-hosts.ts";
import { tooLargeError } from "./limit.ts";
import {
  filterListing,
  joinRemote,
  normalizeRoot,
  printablePath,
  splitRemotePath,
  type UnsafeEntryHandler,
} from "./paths.ts";
import { isConnectionError } from "./pool.ts";
import type { RemoteEntry, RemoteFS } from "./types.ts";

export interface SftpRemoteOptions {
  host: string;
  /** @default 22 */
  port?: number;
  user: string;
  password?: Secret | undefined;
  /** Private key file (OpenSSH or PEM format). */
  privateKeyFile?: string | undefined;
  passphrase?: Secret | undefined;
  /** Server directory of the site; a relative one is taken from the login directory. @default "." */
  root?: string;
  /** Pinned host key fingerprint (`SHA256:…` as ssh-keygen -l prints it); replaces the known_hosts check. */
  hostKey?: string | undefined;
  /** known_hosts file checked when no hostKey is pinned. @default ~/.ssh/known_hosts */
  knownHostsFile?: string;
  /** Accept and record an unknown host key (never a changed one) in knownHostsFile. @default false */
  acceptNew?: boolean;
  /** Called when acceptNew recorded a key, with the line added. */
  onHostKeyAdded?: (line: string, file: string) => void;
  /** Connect / idle timeout. @default 30000 */
  timeoutMs?: number;
  onUnsafe?: UnsafeEntryHandler | undefined;
  debug?: (line: string) => void;
}

/**
 * Connects one SFTP session. The host key is checked before authenticating: against `hostKey` when pinned, else
 * against known_hosts; an unknown key is refused with its fingerprint and the config line to add. Paths are also
 * checked on the server with realpath, so a symlink can never lead a read or a write outside the root.
 */
export async function createSftpRemote(options: SftpRemoteOptions): Promise<RemoteFS> {
  const port = options.port ?? 22;
  const label = `sftp://${options.host}${port === 22 ? "" : `:${port}`}`;
  let broken: Error | undefined;
  // Loaded on first use: ssh2 and its crypto take ~0.1 s to load, which FTP and local deploys need not pay.
  const { default: Client } = await import("ssh2-sftp-client");
  const client: SftpClient = new Client("siteloom", {
    error: (error: unknown) => {
      broken = error instanceof Error ? error : new Error(String(error));
    },
    end: () => {
      broken ??= new Error("connection closed by the server");
    },
    close: () => {
      broken ??= new Error("connection closed");
    },
  });
  let hostKeyProblem: SiteloomError | undefined;
  const knownHostsFile = options.knownHostsFile ?? join(homedir(), ".ssh", "known_hosts");
  let pendingKnownHostsLine: string | undefined;
  const config: Record<string, unknown> = {
    host: options.host,
    port,
    username: options.user,
    readyTimeout: options.timeoutMs ?? 30_000,
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      const verdict = verifyHostKey(key, options, knownHostsFile, label);
      if (verdict.ok) {
        pendingKnownHostsLine = verdict.addLine;
        return true;
      }
      hostKeyProblem = verdict.error;
      return false;
    },
  };
  if (options.password) config.password = options.password.reveal();
  if (options.privateKeyFile) {
    try {
      config.privateKey = await readFile(options.privateKeyFile);
    } catch (error) {
      throw new SiteloomError(
        "ERR_TRANSFER_AUTH",
        `${label}: cannot read the private key ${options.privateKeyFile} (${(error as NodeJS.ErrnoException).code}); check remote.privateKey`,
        { cause: error },
      );
    }
    if (options.passphrase) config.passphrase = options.passphrase.reveal();
  }
  if (options.debug) config.debug = (line: string) => options.debug?.(printable(line, { newlines: "keep" }));
  try {
    await client.connect(config);
  } catch (error) {
    await client.end().catch(() => undefined);
    if (hostKeyProblem) throw hostKeyProblem;
    throw _connectError(error, label, options);
  }
  if (pendingKnownHostsLine !== undefined) {
    await recordHostKey(knownHostsFile, pendingKnownHostsLine);
    options.onHostKeyAdded?.(pendingKnownHostsLine, knownHostsFile);
  }
  const sftp = (client as unknown as { sftp: _Sftp }).sftp;
  // ssh2 leaves callbacks of in-flight requests pending when the socket dies: fail them when it does.
  let markBroken: (error: Error) => void = () => undefined;
  const whenBroken = new Promise<never>((_resolve, reject) => {
    markBroken = reject;
  });
  whenBroken.catch(() => undefined);
  const ssh = (client as unknown as { client: NodeJS.EventEmitter }).client;
  for (const event of ["close", "end", "error"] as const) {
    ssh.on(event, (error?: Error) => {
      broken ??= error instanceof Error ? error : new Error(`connection ${event === "error" ? "failed" : "closed"}`);
      markBroken(broken);
    });
  }
  const hasPosixRename = Boolean(sftp._extensions?.["posix-rename@openssh.com"]);

  let root = normalizeRoot(options.root ?? ".");
  let realRoot: string;
  let rootExists = false;
  try {
    if (!root.startsWith("/")) root = normalizeRoot(await _call<string>(sftp, "realpath", root));
    const resolved = await _call<string>(sftp, "realpath", root).catch(() => undefined);
    rootExists = resolved !== undefined;
    realRoot = resolved ?? root;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw _opError(error, "open", "", label);
  }
  const full = (path: string, op: string) => joinRemote(root, path, op);

  /** Refuses a server path whose real location (symlinks resolved) is outside the root. */
  async function inside(serverPath: string, path: string, op: string): Promise<void> {
    let real: string;
    try {
      real = await _call<string>(sftp, "realpath", serverPath);
    } catch {
      return; // does not exist (yet): nothing to follow
    }
    if (real !== realRoot && !real.startsWith(realRoot === "/" ? "/" : `${realRoot}/`)) {
      throw new SiteloomError(
        "ERR_TRANSFER_UNSAFE_PATH",
        `${label}: refusing to ${op} "${printablePath(path)}": it leads outside the remote root through a symlink (to ${printablePath(real)})`,
      );
    }
  }
  async function insideParent(path: string, op: string): Promise<string> {
    const segments = splitRemotePath(path, op);
    const target = full(path, op);
    if (segments.length > 1) await inside(full(segments.slice(0, -1).join("/"), op), path, op);
    return target;
  }
  const op = <T>(name: string, path: string, fn: () => Promise<T>) =>
    _op(
      name,
      path,
      () => Promise.race([fn(), whenBroken]),
      label,
      () => broken,
    );

  async function listDir(dir: string): Promise<RemoteEntry[]> {
    const target = full(dir, "list");
    await inside(target, dir, "list");
    const raw = await _call<_DirEntry[]>(sftp, "readdir", target);
    const relDir = splitRemotePath(dir).join("/");
    const entries: RemoteEntry[] = [];
    for (const item of raw) {
      if (item.filename === "." || item.filename === "..") continue;
      const entry = _toEntry(item.filename, item.attrs);
      if (entry === undefined) continue;
      if (entry.type === "symlink" && !item.filename.includes("/")) {
        const link = `${target === "/" ? "" : target}/${item.filename}`;
        const linkTarget = await _call<string>(sftp, "readlink", link).catch(() => undefined);
        if (linkTarget !== undefined) entry.target = linkTarget;
      }
      entries.push(entry);
    }
    return filterListing(entries, { root, dir: relDir, onUnsafe: options.onUnsafe });
  }

  const fs: RemoteFS = {
    protocol: "sftp",
    list: (dir) => op("list", dir, () => listDir(dir)),
    stat: (path) =>
      op("stat", path, async () => {
        const segments = splitRemotePath(path, "stat");
        const name = segments.pop();
        if (name === undefined) return { name: "", type: "dir", size: 0, mtime: undefined };
        await inside(full(segments.join("/"), "stat"), path, "stat");
        try {
          const attrs = await _call<_Attrs>(sftp, "lstat", full(path, "stat"));
          const entry = _toEntry(name, attrs);
          if (entry?.type === "symlink") {
            const target = await _call<string>(sftp, "readlink", full(path, "stat")).catch(() => undefined);
            if (target !== undefined) entry.target = target;
            const [safe] = filterListing([entry], { root, dir: segments.join("/"), onUnsafe: options.onUnsafe });
            return safe;
          }
          return entry;
        } catch (error) {
          if (_isMissing(error)) return undefined;
          throw error;
        }
      }),
    download: (path, localFile, downloadOptions = {}) =>
      op("download", path, async () => {
        const target = full(path, "download");
        await inside(target, path, "download");
        // fastGet reads the size the server states when it opens the file: check that first against the cap
        if (downloadOptions.maxBytes !== undefined) {
          const attrs = await _call<_Attrs>(sftp, "stat", target);
          if (attrs.size > downloadOptions.maxBytes) throw tooLargeError(path, downloadOptions.maxBytes);
        }
        await _call<void>(sftp, "fastGet", target, localFile, { concurrency: 16, chunkSize: 32_768 });
      }),
    read: (path) =>
      op("read", path, async () => {
        const target = full(path, "read");
        await inside(target, path, "read");
        try {
          return await _call<Buffer>(sftp, "readFile", target);
        } catch (error) {
          if (_isMissing(error)) return undefined;
          throw error;
        }
      }),
    upload: (source, path, uploadOptions = {}) =>
      op("upload", path, async () => {
        const target = await insideParent(path, "upload");
        const startAt = uploadOptions.startAt ?? 0;
        if (startAt > 0) {
          const attrs = await _call<_Attrs>(sftp, "stat", target).catch(() => undefined);
          if (attrs?.size !== startAt) {
            throw new SiteloomError(
              "ERR_TRANSFER_IO",
              `${label}: cannot resume the upload of "${printablePath(path)}" at byte ${startAt}: the server holds ${attrs ? `${attrs.size} bytes` : "no such file"}; upload it again from the start`,
            );
          }
          const input = typeof source === "string" ? createReadStream(source, { start: startAt }) : source;
          await pipeline(input, sftp.createWriteStream(target, { flags: "r+", start: startAt }));
          return;
        }
        if (typeof source === "string") {
          await _call<void>(sftp, "fastPut", source, target, { concurrency: 16, chunkSize: 32_768 });
          return;
        }
        await pipeline(source as Readable, sftp.createWriteStream(target, { flags: "w" }));
      }),
    rename: (from, to) =>
      op("rename", from, async () => {
        const source = await insideParent(from, "rename");
        const target = await insideParent(to, "rename");
        if (hasPosixRename) {
          await _call<void>(sftp, "ext_openssh_rename", source, target);
          return;
        }
        // Plain SFTP v3 rename refuses an existing target: remove it first (not atomic, the best v3 allows).
        try {
          await _call<void>(sftp, "rename", source, target);
        } catch (error) {
          const exists = await _call<_Attrs>(sftp, "lstat", target).catch(() => undefined);
          if (exists === undefined || _isDir(exists)) throw error;
          await _call<void>(sftp, "unlink", target);
          await _call<void>(sftp, "rename", source, target);
        }
      }),
    remove: (path) =>
      op("remove", path, async () => {
        await _call<void>(sftp, "unlink", await insideParent(path, "remove"));
      }),
    removeDir: (path) =>
      op("remove directory", path, async () => {
        if (splitRemotePath(path, "remove").length === 0) {
          throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `${label}: refusing to remove the remote root itself`);
        }
        await removeTree(path);
      }),
    mkdir: (path) =>
      op("mkdir", path, async () => {
        const segments = splitRemotePath(path, "mkdir");
        if (!rootExists) {
          // A first deploy into a new folder: create the root (and its missing parents) too.
          for (const ancestor of _ancestors(root)) {
            const attrs = await _call<_Attrs>(sftp, "stat", ancestor).catch(() => undefined);
            if (attrs === undefined) await _call<void>(sftp, "mkdir", ancestor);
          }
          rootExists = true;
          realRoot = await _call<string>(sftp, "realpath", root).catch(() => realRoot);
        }
        for (let i = 1; i <= segments.length; i++) {
          const prefix = segments.slice(0, i).join("/");
          const target = full(prefix, "mkdir");
          const attrs = await _call<_Attrs>(sftp, "stat", target).catch(() => undefined);
          if (attrs !== undefined) {
            await inside(target, prefix, "mkdir");
            if (!_isDir(attrs))
              throw new SiteloomError(
                "ERR_TRANSFER_IO",
                `${label}: cannot mkdir "${printablePath(prefix)}": a file is in the way`,
              );
            continue;
          }
          try {
            await _call<void>(sftp, "mkdir", target);
          } catch (error) {
            // created concurrently by another connection of the pool
            const now = await _call<_Attrs>(sftp, "stat", target).catch(() => undefined);
            if (now === undefined || !_isDir(now)) throw error;
          }
        }
      }),
    async close() {
      await client.end().catch(() => undefined);
    },
  };

  async function removeTree(path: string): Promise<void> {
    for (const entry of await listDir(path)) {
      const child = path === "" ? entry.name : `${path}/${entry.name}`;
      if (entry.type === "dir") await removeTree(child);
      else await _call<void>(sftp, "unlink", full(child, "remove"));
    }
    await _call<void>(sftp, "rmdir", full(path, "remove"));
  }

  return fs;
}

// --- internal ---

/** "/a/b/c" → ["/a", "/a/b", "/a/b/c"] ("/" has none). */
function _ancestors(root: string): string[] {
  const parts = root.split("/").filter((part) => part !== "");
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
}

interface _Attrs {
  mode: number;
  size: number;
  mtime: number;
}
interface _DirEntry {
  filename: string;
  attrs: _Attrs;
}
type _Sftp = {
  _extensions?: Record<string, string>;
  createWriteStream(path: string, options: Record<string, unknown>): NodeJS.WritableStream;
} & Record<string, unknown>;

function _call<T>(sftp: _Sftp, method: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = sftp[method] as (...a: unknown[]) => void;
    try {
      fn.call(sftp, ...args, (error: Error | undefined, value: T) => (error ? reject(error) : resolve(value)));
    } catch (error) {
      reject(error);
    }
  });
}

const _S_IFMT = 0o170000;
function _isDir(attrs: _Attrs): boolean {
  return (attrs.mode & _S_IFMT) === 0o040000;
}

function _toEntry(name: string, attrs: _Attrs): RemoteEntry | undefined {
  const kind = attrs.mode & _S_IFMT;
  const mtime = attrs.mtime * 1000;
  if (kind === 0o100000) return { name, type: "file", size: attrs.size, mtime };
  if (kind === 0o040000) return { name, type: "dir", size: 0, mtime };
  if (kind === 0o120000) return { name, type: "symlink", size: attrs.size, mtime };
  return undefined;
}

function _isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 2 || code === "ENOENT";
}

async function _op<T>(
  name: string,
  path: string,
  fn: () => Promise<T>,
  label: string,
  broken: () => Error | undefined,
): Promise<T> {
  const dead = broken();
  if (dead) {
    throw new SiteloomError(
      "ERR_TRANSFER_CONNECT",
      `${label}: cannot ${name} "${printablePath(path)}": connection lost (${printable(dead.message)})`,
      {
        cause: dead,
      },
    );
  }
  try {
    return await fn();
  } catch (error) {
    const lost = broken();
    if (lost && !(error instanceof SiteloomError)) {
      throw new SiteloomError(
        "ERR_TRANSFER_CONNECT",
        `${label}: cannot ${name} "${printablePath(path)}": connection lost (${printable(lost.message)})`,
        {
          cause: error,
        },
      );
    }
    throw _opError(error, name, path, label);
  }
}

function _opError(error: unknown, name: string, path: string, label: string): SiteloomError {
  if (error instanceof SiteloomError) return error;
  // SFTP status messages are the server's own text
  const message = printable(error instanceof Error ? error.message : String(error));
  const what = `${label}: cannot ${name} "${printablePath(path)}"`;
  if (isConnectionError(error)) {
    return new SiteloomError("ERR_TRANSFER_CONNECT", `${what}: connection lost (${message})`, { cause: error });
  }
  return new SiteloomError("ERR_TRANSFER_IO", `${what}: ${message}`, { cause: error });
}

function _connectError(error: unknown, label: string, options: SftpRemoteOptions): SiteloomError {
  const message = printable(error instanceof Error ? error.message : String(error));
  const level = (error as { level?: unknown }).level;
  if (/parse privateKey|passphrase|encrypted private/i.test(message)) {
    return new SiteloomError(
      "ERR_TRANSFER_AUTH",
      `${label}: cannot use the private key ${options.privateKeyFile ?? ""} (${message.replace(/^\w+: /, "")}); check remote.privateKey and remote.passphrase`,
      { cause: error },
    );
  }
  if (level === "client-authentication" || /authentication|auth methods/i.test(message)) {
    return new SiteloomError(
      "ERR_TRANSFER_AUTH",
      `${label}: login as "${options.user}" refused; check remote.user and remote.password or remote.privateKey`,
      { cause: error },
    );
  }
  return new SiteloomError("ERR_TRANSFER_CONNECT", `${label}: cannot connect (${message.replace(/^\w+: /, "")})`, {
    cause: error,
  });
}
