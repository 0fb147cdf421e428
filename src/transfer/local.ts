import { createReadStream, createWriteStream } from "node:fs";
import {
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  truncate,
  unlink,
} from "node:fs/promises";
import { isAbsolute, join, resolve as resolvePath, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SiteloomError } from "../errors.ts";
import { guardBackups, realLocation, refuseOverlap } from "./backup-apart.ts";
import { tooLargeError } from "./limit.ts";
import type { UnsafeEntryHandler } from "./paths.ts";
import type { RemoteEntry, RemoteFS } from "./types.ts";

export interface LocalRemoteOptions {
  /** The directory that plays the remote root (absolute, or relative to the current directory). */
  root: string;
  /** Called for every listing entry left out: a symlink leading outside the root (as the network backends do). */
  onUnsafe?: UnsafeEntryHandler | undefined;
  /** The directory of `RemoteFS.backups` (outside the root), with the same path rules. */
  backupRoot?: string | undefined;
}

/**
 * A directory as a remote: for mounted paths (NFS, sshfs) and for tests. It honours the same path rules as the network
 * backends: relative POSIX paths only, no `..`, no backslash/NUL/control characters, and nothing is ever read or
 * written through a symlink that leads outside the root.
 */
export function createLocalRemote(options: LocalRemoteOptions): RemoteFS {
  const site = _createView(options.root, options.onUnsafe, false);
  if (options.backupRoot === undefined) return site.fs;
  const backups = _createView(options.backupRoot, options.onUnsafe, true);
  const move = async (src: string, dst: string, label: string) => rename(src, dst).catch(_io("rename", label));
  const real = (path: string) => realLocation(path, (probe) => realpath(probe).catch(() => undefined));
  const apart = async () =>
    refuseOverlap(
      await real(resolvePath(options.root)),
      await real(resolvePath(options.backupRoot!)),
      options.backupRoot!,
    );
  return guardBackups(
    {
      ...site.fs,
      backups: {
        root: options.backupRoot,
        fs: backups.fs,
        moveIn: async (from, to) => move(await site.inside(from, "rename"), await backups.inside(to, "rename"), from),
        moveOut: async (from, to) => move(await backups.inside(from, "rename"), await site.inside(to, "rename"), to),
      },
    },
    apart,
  );
}

// --- internal ---

/** One root's file system, and its check of a path (confined to that root). */
function _createView(
  rootOption: string,
  onUnsafe: UnsafeEntryHandler | undefined,
  /** A missing root is created with its parents (the backup root), or alone below a parent that exists (the site's). */
  parents: boolean,
): { fs: RemoteFS; inside: (path: string, op: string) => Promise<string> } {
  const root = resolvePath(rootOption);
  let realRoot: string | undefined;

  /** Absolute path of `path` inside the root, refusing unsafe paths and symlink escapes. */
  async function inside(path: string, op: string): Promise<string> {
    const segments = _checkPath(path, op);
    const full = segments.length === 0 ? root : join(root, ...segments);
    realRoot ??= await realpath(root).catch(() => undefined);
    if (realRoot === undefined) return full; // the root does not exist yet: nothing under it can be a symlink
    // The deepest existing ancestor (or the path itself when it is not a symlink) must resolve inside the root.
    // The final segment itself may be a symlink (list/stat/remove/rename act on the link, never through it).
    let probe = segments.length === 0 ? full : join(root, ...segments.slice(0, -1));
    for (;;) {
      const real = await realpath(probe).catch(() => undefined);
      if (real !== undefined) {
        if (real !== realRoot && !real.startsWith(realRoot + sep)) {
          throw new SiteloomError(
            "ERR_TRANSFER_UNSAFE_PATH",
            `local: refusing to ${op} "${path}": it leads outside the remote root through a symlink`,
          );
        }
        return full;
      }
      if (probe === root) return full;
      probe = resolvePath(probe, "..");
    }
  }

  /** Whether a symlink resolves to something inside the root (a dangling one does not). */
  async function leadsInside(link: string): Promise<boolean> {
    const real = await realpath(link).catch(() => undefined);
    realRoot ??= await realpath(root).catch(() => undefined);
    return real !== undefined && realRoot !== undefined && (real === realRoot || real.startsWith(realRoot + sep));
  }

  const fs: RemoteFS = {
    protocol: "local",

    async list(dir) {
      const full = await inside(dir, "list");
      const st = await lstat(full).catch(_io("list", dir));
      if (st.isSymbolicLink()) {
        throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `local: refusing to list "${dir}": it is a symlink`);
      }
      const names = await readdir(full).catch(_io("list", dir));
      const entries: RemoteEntry[] = [];
      for (const name of names.sort()) {
        // a name the network backends would refuse is skipped here too
        if (_unsafeSegment(name) !== undefined) continue;
        const entry = await _entry(join(full, name), name);
        // like the network backends: a symlink is listed only when it resolves inside the root
        if (entry?.type === "symlink" && !(await leadsInside(join(full, name)))) {
          const reason = `a symlink pointing outside the remote root${entry.target ? ` (to ${entry.target})` : ""}`;
          onUnsafe?.({ dir: _checkPath(dir, "list").join("/"), name, reason });
          continue;
        }
        if (entry !== undefined) entries.push(entry);
      }
      return entries;
    },

    async stat(path) {
      const full = await inside(path, "stat");
      const segments = _checkPath(path, "stat");
      return _entry(full, segments.at(-1) ?? "");
    },

    async download(path, localFile, downloadOptions = {}) {
      const full = await inside(path, "download");
      await _refuseSymlink(full, path, "download");
      const max = downloadOptions.maxBytes;
      if (max !== undefined && (await stat(full).catch(_io("download", path))).size > max) {
        throw tooLargeError(path, max);
      }
      await copyFile(full, localFile).catch(_io("download", path));
    },

    async read(path) {
      const full = await inside(path, "read");
      try {
        await _refuseSymlink(full, path, "read");
        return await readFile(full);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        if (error instanceof SiteloomError) throw error;
        return _io("read", path)(error);
      }
    },

    async upload(source, path, options = {}) {
      const full = await inside(path, "upload");
      await _refuseSymlink(full, path, "upload");
      const startAt = options.startAt ?? 0;
      // Like FTP REST+STOR / APPE: the remote keeps its first `startAt` bytes, the rest comes from the source (read from
      // offset `startAt` when it is a file; a stream is taken to start there already).
      const input: Readable = typeof source === "string" ? createReadStream(source, { start: startAt }) : source;
      const output = createWriteStream(full, startAt > 0 ? { flags: "r+", start: startAt } : { flags: "w" });
      await pipeline(input, output).catch(_io("upload", path));
      if (startAt > 0) {
        // drop anything a previous, longer partial file had beyond what was written now
        await truncate(full, startAt + output.bytesWritten).catch(_io("upload", path));
      }
    },

    async rename(from, to) {
      const src = await inside(from, "rename");
      const dst = await inside(to, "rename");
      await rename(src, dst).catch(_io("rename", `${from} → ${to}`));
    },

    async remove(path) {
      const full = await inside(path, "remove");
      await unlink(full).catch(_io("remove", path));
    },

    async removeDir(path) {
      const full = await inside(path, "remove");
      if (full === root) {
        throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", "local: refusing to remove the remote root itself");
      }
      const st = await lstat(full).catch(_io("remove", path));
      if (!st.isDirectory())
        throw new SiteloomError("ERR_TRANSFER_IO", `local: cannot remove "${path}": not a directory`);
      // rm does not follow symlinks inside the tree: links are removed, never their targets
      await rm(full, { recursive: true }).catch(_io("remove", path));
    },

    async mkdir(path) {
      const full = await inside(path, "mkdir");
      if (!parents && realRoot === undefined) {
        await mkdir(root).catch((error: NodeJS.ErrnoException) =>
          error.code === "EEXIST" ? undefined : _io("mkdir", path)(error),
        );
      }
      await mkdir(full, { recursive: true }).catch(_io("mkdir", path));
      realRoot ??= await realpath(root).catch(() => undefined);
      await inside(path, "mkdir"); // re-check: a racing symlink swap must not go unnoticed
    },

    async close() {},
  };
  return { fs, inside };
}

/** Splits a remote path into checked segments ("" and "." mean the root). */
function _checkPath(path: string, op: string): string[] {
  if (typeof path !== "string")
    throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `local: ${op}: path is not a string`);
  if (isAbsolute(path) || path.startsWith("/")) {
    throw new SiteloomError(
      "ERR_TRANSFER_UNSAFE_PATH",
      `local: refusing to ${op} "${path}": absolute paths are not allowed`,
    );
  }
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  for (const segment of segments) {
    const why = _unsafeSegment(segment);
    if (why !== undefined) {
      throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `local: refusing to ${op} "${_printable(path)}": ${why}`);
    }
  }
  return segments;
}

function _unsafeSegment(name: string): string | undefined {
  if (name === "." || name === "..") return "it contains a '..' segment";
  if (name.includes("\\")) return "it contains a backslash";
  if (name.includes("/")) return "it contains a '/' inside a name";
  if (/[\u0000-\u001f\u007f]/.test(name)) return "it contains a NUL or control character";
  return undefined;
}

function _printable(path: string): string {
  return path.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

async function _entry(full: string, name: string): Promise<RemoteEntry | undefined> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(full);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw _wrap("stat", name, error);
  }
  const mtime = Math.floor(st.mtimeMs);
  if (st.isSymbolicLink()) {
    const target = await readlink(full).catch(() => undefined);
    return target === undefined
      ? { name, type: "symlink", size: st.size, mtime }
      : { name, type: "symlink", size: st.size, mtime, target };
  }
  if (st.isDirectory()) return { name, type: "dir", size: 0, mtime };
  if (st.isFile()) return { name, type: "file", size: st.size, mtime };
  return undefined; // sockets, fifos, devices: not something a web host serves
}

async function _refuseSymlink(full: string, path: string, op: string): Promise<void> {
  const st = await lstat(full).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw _wrap(op, path, error);
  });
  if (st?.isSymbolicLink()) {
    throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `local: refusing to ${op} "${path}": it is a symlink`);
  }
}

function _io(op: string, path: string): (error: unknown) => never {
  return (error) => {
    throw _wrap(op, path, error);
  };
}

function _wrap(op: string, path: string, error: unknown): SiteloomError {
  if (error instanceof SiteloomError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? "EIO";
  const reason = _REASONS[code] ?? (error as Error).message;
  return new SiteloomError("ERR_TRANSFER_IO", `local: cannot ${op} "${_printable(path)}": ${reason} (${code})`, {
    cause: error,
  });
}

const _REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EEXIST: "already exists",
  ENOTDIR: "a parent is not a directory",
  EISDIR: "is a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTEMPTY: "directory not empty",
  ENOSPC: "no space left on device",
};
