import { createReadStream } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, posix } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type SftpClient from "ssh2-sftp-client";
import { SiteloomError } from "../errors.ts";
import { printable } from "../printable.ts";
import type { Secret } from "../secret.ts";
import { guardBackups, realLocation, refuseOverlap } from "./backup-apart.ts";
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
import type { PutOptions, RemoteEntry, RemoteFS } from "./types.ts";

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
  /** The folder of `RemoteFS.backups` (outside the root): absolute, or relative to the login directory. */
  backupRoot?: string | undefined;
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
  // the configured methods only, password first as ssh2 orders them: its default asks for "none" first, a round
  // trip per login spent on learning which methods the server takes
  config.authHandler = [
    ...(config.password !== undefined ? ["password"] : []),
    ...(config.privateKey !== undefined ? ["publickey"] : []),
  ];
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
  const ssh = (client as unknown as { client: NodeJS.EventEmitter & { setNoDelay(on: boolean): void } }).client;
  // Requests are pipelined: without this, Nagle's algorithm holds each small request back until the one before it is
  // acknowledged, a round trip per request sent behind another.
  ssh.setNoDelay(true);
  for (const event of ["close", "end", "error"] as const) {
    ssh.on(event, (error?: Error) => {
      broken ??= error instanceof Error ? error : new Error(`connection ${event === "error" ? "failed" : "closed"}`);
      markBroken(broken);
    });
  }
  const hasPosixRename = Boolean(sftp._extensions?.["posix-rename@openssh.com"]);
  // renames `put` sent without waiting (onPlaced): `flush` waits for them
  const pendingRenames = new Set<Promise<void>>();

  let backupView: _View | undefined;
  let site: _View;
  try {
    site = await view(options.root ?? ".", false);
    if (options.backupRoot !== undefined) backupView = await view(options.backupRoot, true);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw _opError(error, "open", "", label);
  }
  if (backupView === undefined) return site.fs;
  const other = backupView;
  const move = (from: _View, fromPath: string, to: _View, toPath: string) =>
    site.op("rename", fromPath, async () => {
      const [source, target] = await Promise.all([
        from.insideParent(fromPath, "rename"),
        to.insideParent(toPath, "rename"),
      ]);
      from.forgetInside(source);
      to.forgetInside(target);
      await site.renameOnServer(source, target);
    });
  const realOf = (path: string) => _call<string>(sftp, "realpath", path).catch(() => undefined);
  const apart = async () =>
    refuseOverlap(
      await realLocation(site.root, realOf),
      await realLocation(other.root, realOf),
      options.backupRoot ?? other.root,
    );
  return guardBackups(
    {
      ...site.fs,
      get closed() {
        return broken !== undefined;
      },
      backups: {
        root: options.backupRoot!,
        fs: { ...other.fs, close: async () => {} },
        moveIn: (from, to) => move(site, from, other, to),
        moveOut: (from, to) => move(other, from, site, to),
      },
    },
    apart,
  );

  /** The file system of one root over this session (the site's, or the backup root's: `backups`). */
  async function view(rootOption: string, backups: boolean): Promise<_View> {
    let root = normalizeRoot(rootOption);
    if (!root.startsWith("/")) {
      // a backup root may not exist yet: its login folder is resolved, not itself
      root = backups
        ? normalizeRoot(posix.join(await _call<string>(sftp, "realpath", "."), root))
        : normalizeRoot(await _call<string>(sftp, "realpath", root));
    }
    // Where the root really is (symlinks resolved) is only needed to check a path's realpath against it: asked now,
    // and waited for by the first check, whose own realpath goes out beside it (a round trip less per login).
    let realRoot = root;
    let rootExists = false;
    // OpenSSH's realpath answers for a missing last folder too: the stat beside it says whether the root is there
    const rootKnown = Promise.allSettled([
      _call<string>(sftp, "realpath", root),
      _call<_Attrs>(sftp, "stat", root),
    ]).then(([resolved, found]) => {
      if (resolved.status === "fulfilled") realRoot = resolved.value;
      rootExists = resolved.status === "fulfilled" && found.status === "fulfilled";
    });
    const full = (path: string, op: string) => joinRemote(root, path, op);

    /**
     * Refuses a server path whose real location (symlinks resolved) is outside the root. Returns whether the path
     * exists (a missing one has nothing to follow).
     */
    async function inside(serverPath: string, path: string, op: string): Promise<boolean> {
      const realSent = _call<string>(sftp, "realpath", serverPath);
      realSent.catch(() => undefined);
      await rootKnown;
      let real: string;
      try {
        real = await realSent;
      } catch {
        return false; // does not exist (yet): nothing to follow
      }
      refuseOutside(real, path, op);
      return true;
    }
    function refuseOutside(real: string, path: string, op: string): void {
      if (real !== realRoot && !real.startsWith(realRoot === "/" ? "/" : `${realRoot}/`)) {
        throw new SiteloomError(
          "ERR_TRANSFER_UNSAFE_PATH",
          `${label}: refusing to ${op} "${printablePath(path)}": it leads outside the remote root through a symlink (to ${printablePath(real)})`,
        );
      }
    }
    // Existing folders found inside the root in this session: a deploy writes many files per folder, and one realpath
    // round trip per folder (not per file) is enough. Forgotten when this session removes or renames under them.
    const insideDirs = new Set<string>();
    // checks in flight: the lanes of a session writing into one folder wait for one realpath, not one each
    const checking = new Map<string, Promise<boolean>>();
    function forgetInside(serverPath: string): void {
      const under = (dir: string) => dir === serverPath || dir.startsWith(`${serverPath}/`);
      for (const dir of checking.keys()) if (under(dir)) checking.delete(dir);
      for (const dir of insideDirs) if (under(dir)) insideDirs.delete(dir);
    }
    /** Checks a folder once per session (see insideDirs); whether it exists. */
    async function insideDir(dir: string, path: string, op: string): Promise<boolean> {
      if (insideDirs.has(dir)) return true;
      let check = checking.get(dir);
      if (check === undefined) {
        check = inside(dir, path, op);
        checking.set(dir, check);
      }
      // the first waiter to resume records the outcome, unless the folder was removed or renamed meanwhile
      const current = () => checking.get(dir) === check && checking.delete(dir);
      let exists: boolean;
      try {
        exists = await check;
      } catch (error) {
        current();
        throw error;
      }
      if (current() && exists) insideDirs.add(dir);
      return exists;
    }
    async function insideParent(path: string, op: string): Promise<string> {
      const segments = splitRemotePath(path, op);
      const target = full(path, op);
      if (segments.length > 1) await insideDir(full(segments.slice(0, -1).join("/"), op), path, op);
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
      // the server closed the session (an idle timeout, a restart): the pool logs in afresh instead of lending it out
      get closed() {
        return broken !== undefined;
      },
      // one session carries several files at once: each waits on round trips, not on the others
      lanes: _LANES,
      list: (dir) => op("list", dir, () => listDir(dir)),
      stat: (path) =>
        op("stat", path, async () => {
          const segments = splitRemotePath(path, "stat");
          const name = segments.pop();
          if (name === undefined) return { name: "", type: "dir", size: 0, mtime: undefined };
          // the lstat goes out with the folder's check (its answer is only read once the folder is found inside the
          // root): a stat is one round trip
          const attrsSent = _call<_Attrs>(sftp, "lstat", full(path, "stat"));
          attrsSent.catch(() => undefined);
          if (segments.length > 0) await insideDir(full(segments.join("/"), "stat"), path, "stat");
          try {
            const attrs = await attrsSent;
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
          const target = await insideParent(path, "upload").catch((error: unknown) => _letGo(source, error));
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
          await writeTemp(source as string | Readable, target);
        }),
      rename: (from, to) =>
        op("rename", from, async () => {
          const [source, target] = await Promise.all([insideParent(from, "rename"), insideParent(to, "rename")]);
          await renameOnServer(source, target);
        }),
      put: (source, temp, path, putOptions = {}) => op("upload", path, () => put(source, temp, path, putOptions)),
      async flush() {
        await Promise.all(pendingRenames);
      },
      mkdirMany: (paths) => op("mkdir", paths[0] ?? "", () => mkdirMany(paths)),
      remove: (path) =>
        op("remove", path, async () => {
          await _call<void>(sftp, "unlink", await insideParent(path, "remove"));
        }),
      removeEmptyDir: (path) =>
        op("remove directory", path, async () => {
          if (splitRemotePath(path, "remove").length === 0) {
            throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `${label}: refusing to remove the remote root itself`);
          }
          forgetInside(full(path, "remove"));
          await _call<void>(sftp, "rmdir", full(path, "remove"));
        }),
      removeDir: (path) =>
        op("remove directory", path, async () => {
          if (splitRemotePath(path, "remove").length === 0) {
            throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `${label}: refusing to remove the remote root itself`);
          }
          forgetInside(full(path, "remove"));
          await removeTree(path);
        }),
      mkdir: (path) =>
        op("mkdir", path, async () => {
          const segments = splitRemotePath(path, "mkdir");
          await createRoot();
          for (let i = 1; i <= segments.length; i++) {
            const prefix = segments.slice(0, i).join("/");
            const target = full(prefix, "mkdir");
            const attrs = await _call<_Attrs>(sftp, "stat", target).catch(() => undefined);
            if (attrs !== undefined) {
              await existingDir(target, prefix, attrs);
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

    /** Renames on the server, replacing the target (posix-rename where the server has it). */
    async function renameOnServer(source: string, target: string): Promise<void> {
      forgetInside(source);
      forgetInside(target);
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
    }

    /** A first deploy into a new folder: creates the root (and its missing parents) too, once per session. */
    let rootCreated: Promise<void> | undefined;
    async function createRoot(): Promise<void> {
      await rootKnown;
      if (rootExists) return;
      rootCreated ??= (async () => {
        // the site's root alone (below a parent that exists), the backup root with its parents
        for (const ancestor of _ancestors(root).slice(backups ? 0 : -1)) {
          const attrs = await _call<_Attrs>(sftp, "stat", ancestor).catch(() => undefined);
          if (attrs === undefined) await _call<void>(sftp, "mkdir", ancestor);
        }
        rootExists = true;
        realRoot = await _call<string>(sftp, "realpath", root).catch(() => realRoot);
      })();
      rootCreated.catch(() => {
        rootCreated = undefined;
      });
      return rootCreated;
    }

    /** A folder that mkdir found in place: it must be a folder, and inside the root. */
    async function existingDir(target: string, path: string, attrs: _Attrs): Promise<void> {
      if (!_isDir(attrs)) throw _inTheWay(label, path);
      if (await inside(target, path, "mkdir")) insideDirs.add(target);
    }

    /**
     * Creates folders one depth at a time, every mkdir of a depth sent at once (one round trip per depth, not per
     * folder). A depth starts only when the one above is in place and checked, so a folder that turned out to exist
     * already is checked against symlinks out of the root before anything is created in it.
     */
    async function mkdirMany(paths: string[]): Promise<void> {
      await createRoot();
      const byDepth = new Map<number, string[]>();
      for (const path of paths) {
        const depth = splitRemotePath(path, "mkdir").length;
        byDepth.set(depth, [...(byDepth.get(depth) ?? []), path]);
      }
      for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
        await Promise.all(
          byDepth.get(depth)!.map(async (path) => {
            const target = await insideParent(path, "mkdir");
            // what a folder that is there already is and where it leads go out with the mkdir (answered after it)
            const made = _call<void>(sftp, "mkdir", target).then(
              () => undefined,
              (error: unknown) => error,
            );
            const attrs = _call<_Attrs>(sftp, "stat", target).catch(() => undefined);
            const real = _call<string>(sftp, "realpath", target).catch(() => undefined);
            const refused = await made;
            if (refused === undefined) {
              insideDirs.add(target); // new, in a folder inside the root
              return;
            }
            const found = await attrs;
            if (found === undefined) throw refused;
            if (!_isDir(found)) throw _inTheWay(label, path);
            const resolved = await real;
            if (resolved === undefined) throw refused;
            refuseOutside(resolved, path, "mkdir");
            insideDirs.add(target);
          }),
        );
      }
    }

    /**
     * The whole atomic upload of a local file in two round trips: OPEN of the temp name, then every WRITE, the FSTAT of
     * the size check and the CLOSE sent at once (a server answers one channel's requests in order); then the rename,
     * which with `onPlaced` is sent without waiting (its reply arrives while the next file goes out; `flush` waits).
     */
    async function put(source: string | Readable, temp: string, path: string, putOptions: PutOptions): Promise<void> {
      const keep = putOptions.keepPrevious;
      const keepIn = putOptions.keepIn === "backups" ? backupView : { insideParent };
      // the folders' checks at once (the backup folder's too): one round trip, none when this session knows them
      const [tempTarget, target, aside] = await Promise.all([
        insideParent(temp, "upload"),
        insideParent(path, "rename"),
        keep === undefined
          ? undefined
          : keepIn === undefined
            ? Promise.reject(new SiteloomError("ERR_TRANSFER_IO", `${label}: this session has no backup root`))
            : keepIn.insideParent(keep, "rename"),
      ]).catch((error: unknown) => _letGo(source, error));
      const onPlaced = putOptions.onPlaced;
      if (aside !== undefined) {
        // The version there now goes aside (a missing one has nothing to keep) in the same write as the size check and
        // the close, so the final name is without a file for the one round trip before the rename below, as when the
        // two renames go back to back. A failed upload puts the version back; so does a failed rename.
        let moved: Promise<boolean> | undefined;
        const moveAside = () => {
          moved = renameOnServer(target, aside).then(
            () => true,
            (error: unknown) => {
              if (_isMissing(error)) return false;
              throw error;
            },
          );
          return moved;
        };
        const putBack = async () => {
          if (moved !== undefined && (await moved.catch(() => false))) {
            await renameOnServer(aside, target).catch(() => undefined);
          }
        };
        try {
          await writeTemp(source, tempTarget, putOptions.expectedSize, moveAside);
          await renameOnServer(tempTarget, target);
        } catch (error) {
          await putBack();
          throw error;
        }
        onPlaced?.();
        return;
      }
      await writeTemp(source, tempTarget, putOptions.expectedSize);
      if (onPlaced === undefined || !hasPosixRename) {
        await renameOnServer(tempTarget, target);
        onPlaced?.();
        return;
      }
      forgetInside(target);
      const renamed = Promise.race([_call<void>(sftp, "ext_openssh_rename", tempTarget, target), whenBroken]).then(
        () => onPlaced(),
        (error: unknown) => onPlaced(_opError(error, "rename", path, label)),
      );
      pendingRenames.add(renamed);
      void renamed.finally(() => pendingRenames.delete(renamed));
    }

    /**
     * Writes a new file in two round trips: OPEN, then every WRITE (up to _WRITES_IN_FLIGHT awaiting their reply), the
     * FSTAT of the size check (with `expectedSize`), the CLOSE and what `behind` sends, all at once.
     */
    async function writeTemp(
      source: string | Readable,
      serverPath: string,
      expectedSize?: number,
      behind?: () => Promise<unknown>,
    ): Promise<void> {
      const handle = await _call<Buffer>(sftp, "open", serverPath, "w").catch((error: unknown) =>
        _letGo(source, error),
      );
      let chunks: AsyncGenerator<Buffer>;
      try {
        chunks = typeof source === "string" ? await _fileChunks(source) : _streamChunks(source);
      } catch (error) {
        await _call<void>(sftp, "close", handle).catch(() => undefined);
        throw error;
      }
      const writes = new Set<Promise<void>>();
      let failed: unknown;
      let closing: Promise<void> | undefined;
      let stat: Promise<_Attrs> | undefined;
      try {
        let position = 0;
        for await (const chunk of chunks) {
          const write = _call<void>(sftp, "write", handle, chunk, 0, chunk.length, position).catch((error: unknown) => {
            failed ??= error;
          });
          writes.add(write);
          void write.finally(() => writes.delete(write));
          position += chunk.length;
          if (failed !== undefined) throw failed;
          if (writes.size >= _WRITES_IN_FLIGHT) await Promise.race(writes);
        }
        // the size check and the close go out right behind the last write
        if (expectedSize !== undefined) stat = _call<_Attrs>(sftp, "fstat", handle);
        closing = _call<void>(sftp, "close", handle);
        const [attrs] = await Promise.all([stat, closing, behind?.(), ...writes]);
        if (failed !== undefined) throw failed;
        if (attrs !== undefined) _checkSize(attrs, { expectedSize });
      } finally {
        await chunks.return(undefined).catch(() => undefined);
        if (closing === undefined) {
          await Promise.allSettled(writes);
          await _call<void>(sftp, "close", handle).catch(() => undefined);
        }
      }
    }

    async function removeTree(path: string): Promise<void> {
      for (const entry of await listDir(path)) {
        const child = path === "" ? entry.name : `${path}/${entry.name}`;
        if (entry.type === "dir") await removeTree(child);
        else await _call<void>(sftp, "unlink", full(child, "remove"));
      }
      await _call<void>(sftp, "rmdir", full(path, "remove"));
    }

    return { root, fs, insideParent, forgetInside, renameOnServer, op };
  }
}

/** One root's file system, and what a move across roots needs of it. */
interface _View {
  /** The root as an absolute server path (symlinks not resolved). */
  root: string;
  fs: RemoteFS;
  insideParent(path: string, op: string): Promise<string>;
  forgetInside(serverPath: string): void;
  renameOnServer(source: string, target: string): Promise<void>;
  op<T>(name: string, path: string, fn: () => Promise<T>): Promise<T>;
}

// --- internal ---

/** Bytes read from the local file per WRITE request, and WRITE requests awaiting their reply at most (2 MB, the
 * SSH channel window of OpenSSH). */
const _WRITE_CHUNK = 65_536;
/** Operations the pool lends one session out for at once (see RemoteFS.lanes). */
const _LANES = 4;
const _WRITES_IN_FLIGHT = 32;

/** A local file in chunks of _WRITE_CHUNK bytes (opened before the first is asked for: an error shows at once). */
async function _fileChunks(local: string): Promise<AsyncGenerator<Buffer>> {
  const input = await open(local, "r");
  return (async function* () {
    try {
      let position = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(_WRITE_CHUNK);
        const { bytesRead } = await input.read(chunk, 0, _WRITE_CHUNK, position);
        if (bytesRead > 0) yield bytesRead < _WRITE_CHUNK ? chunk.subarray(0, bytesRead) : chunk;
        // a short read is the end of the file
        if (bytesRead < _WRITE_CHUNK) return;
        position += bytesRead;
      }
    } finally {
      await input.close().catch(() => undefined);
    }
  })();
}

/** A stream in chunks of at most _WRITE_CHUNK bytes. */
async function* _streamChunks(source: Readable): AsyncGenerator<Buffer> {
  for await (const piece of source) {
    const buffer = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as string);
    for (let at = 0; at < buffer.length; at += _WRITE_CHUNK) yield buffer.subarray(at, at + _WRITE_CHUNK);
  }
}

function _inTheWay(label: string, path: string): SiteloomError {
  return new SiteloomError("ERR_TRANSFER_IO", `${label}: cannot mkdir "${printablePath(path)}": a file is in the way`);
}

function _checkSize(attrs: _Attrs, options: { expectedSize?: number | undefined }): void {
  if (options.expectedSize !== undefined && attrs.size !== options.expectedSize) {
    throw new SiteloomError(
      "ERR_TRANSFER_IO",
      `size check failed after upload: the server has ${attrs.size} bytes, expected ${options.expectedSize}`,
    );
  }
}

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

/** A refused upload lets its stream source go (as a pipeline would: a file stream closes its file), then fails. */
function _letGo(source: string | Readable, error: unknown): never {
  if (typeof source !== "string") source.destroy();
  throw error;
}
