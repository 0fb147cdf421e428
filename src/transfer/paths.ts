import { isAbsolute, posix, relative, resolve as resolveLocal, sep } from "node:path";
import { SiteloomError } from "../errors.ts";
import { printable } from "../printable.ts";

/** An entry a server listed that was refused (and left out of the listing). */
export interface UnsafeEntry {
  /** Directory listed, relative to the remote root. */
  dir: string;
  /** The name as the server sent it, control characters escaped. */
  name: string;
  reason: string;
}

/** Receives every refused listing entry, so the caller can report it (export prints them as "skipped"). */
export type UnsafeEntryHandler = (entry: UnsafeEntry) => void;

/**
 * Why a single name from a listing cannot be used, or undefined when it is safe: empty, `.`/`..`, a `/` or `\`
 * inside it, NUL or another control character. A server that sends such a name is broken or hostile.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name === "") return "empty name";
  if (name === "." || name === "..") return "a '.' or '..' name";
  if (name.includes("/")) return "a '/' inside a name";
  if (name.includes("\\")) return "a backslash inside a name";
  if (name.includes("\u0000")) return "a NUL character";
  if (_CONTROL.test(name)) return "a control character";
  return undefined;
}

/**
 * Checks a root-relative POSIX path and returns its segments ("" and "." are the root; empty segments are
 * dropped). Absolute paths, `..`, backslashes, NUL and control characters are refused with
 * ERR_TRANSFER_UNSAFE_PATH, so nothing built from the result can leave the root.
 */
export function splitRemotePath(path: string, op = "use"): string[] {
  if (typeof path !== "string") {
    throw new SiteloomError("ERR_TRANSFER_UNSAFE_PATH", `transfer: refusing to ${op} a path that is not a string`);
  }
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) {
    throw new SiteloomError(
      "ERR_TRANSFER_UNSAFE_PATH",
      `transfer: refusing to ${op} "${printablePath(path)}": absolute paths are not allowed (paths are relative to remote.root)`,
    );
  }
  const segments = path.split("/").filter((segment) => segment !== "" && segment !== ".");
  for (const segment of segments) {
    const reason = unsafeNameReason(segment);
    if (reason !== undefined) {
      throw new SiteloomError(
        "ERR_TRANSFER_UNSAFE_PATH",
        `transfer: refusing to ${op} "${printablePath(path)}": it contains ${reason}`,
      );
    }
  }
  return segments;
}

/** The normalised form of a root-relative path ("a//b/./c" → "a/b/c"; the root is ""). Throws like splitRemotePath. */
export function normalizeRemotePath(path: string, op?: string): string {
  return splitRemotePath(path, op).join("/");
}

/**
 * Joins the server-side root (e.g. "/" or "/var/www/site") with a root-relative path. The path is checked with
 * splitRemotePath first, so the result is always the root or below it.
 */
export function joinRemote(root: string, path: string, op?: string): string {
  const segments = splitRemotePath(path, op);
  const base = normalizeRoot(root);
  if (segments.length === 0) return base;
  return base === "/" ? `/${segments.join("/")}` : `${base}/${segments.join("/")}`;
}

/** A server-side root in canonical form: absolute or relative to the login directory, no trailing slash. */
export function normalizeRoot(root: string): string {
  const trimmed = root.trim() === "" ? "/" : root.trim();
  const normal = posix.normalize(trimmed);
  if (normal === "/" || normal === ".") return normal;
  return normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/**
 * Whether a symlink's target stays inside the remote root. `linkDir` is the root-relative directory holding the link;
 * `root` is the server-side root; absolute targets must lie under it, relative ones must not climb above it.
 */
export function symlinkStaysInside(root: string, linkDir: string, target: string): boolean {
  if (target === "" || target.includes("\u0000")) return false;
  const base = normalizeRoot(root);
  if (target.startsWith("/")) {
    // With root "/" (a chrooted FTP login, or a whole server) an absolute target cannot be placed: the server may
    // resolve it inside a chroot or on its real file system. Refuse it rather than guess.
    if (!base.startsWith("/") || base === "/") return false;
    const resolved = posix.normalize(target);
    return resolved === base || resolved.startsWith(`${base}/`);
  }
  const resolved = posix.normalize(posix.join("/", linkDir, target));
  // posix.join on "/" clamps "..": detect climbing by counting instead
  let depth = linkDir.split("/").filter((s) => s !== "" && s !== ".").length;
  for (const segment of target.split("/")) {
    if (segment === "..") depth--;
    else if (segment !== "" && segment !== ".") depth++;
    if (depth < 0) return false;
  }
  return resolved.startsWith("/");
}

/**
 * Joins a local root directory with a root-relative remote path for writing on THIS side (export). Checks the path
 * like splitRemotePath, then verifies the result is still inside `localRoot` (Windows separators, drive letters).
 */
export function joinLocal(localRoot: string, path: string, op = "write"): string {
  const segments = splitRemotePath(path, op);
  const root = resolveLocal(localRoot);
  const full = resolveLocal(root, ...segments);
  const rel = relative(root, full);
  if (rel !== "" && (rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel))) {
    throw new SiteloomError(
      "ERR_TRANSFER_UNSAFE_PATH",
      `transfer: refusing to ${op} "${printablePath(path)}": it would leave ${localRoot}`,
    );
  }
  return full;
}

/** A path with control characters shown as `\xNN`, safe to print on one line. */
export function printablePath(path: string): string {
  return printable(path, { newlines: "escape" });
}

/**
 * Filters raw listing entries: unsafe names and symlinks leading outside the root are dropped and passed to
 * `onUnsafe`. Used by every network backend so they refuse exactly the same things.
 */
export function filterListing<T extends { name: string; type: string; target?: string | undefined }>(
  entries: readonly T[],
  context: { root: string; dir: string; onUnsafe: UnsafeEntryHandler | undefined },
): T[] {
  const safe: T[] = [];
  for (const entry of entries) {
    let reason = unsafeNameReason(entry.name);
    if (reason === undefined && entry.type === "symlink") {
      if (entry.target === undefined || entry.target === "") reason = "a symlink whose target is unknown";
      else if (!symlinkStaysInside(context.root, context.dir, entry.target)) {
        reason = `a symlink pointing outside the remote root (to ${printablePath(entry.target)})`;
      }
    }
    if (reason === undefined) safe.push(entry);
    else context.onUnsafe?.({ dir: context.dir, name: printablePath(entry.name), reason });
  }
  return safe;
}

/**
 * Why a remote name cannot be a file here although it is safe on the server, or undefined: longer than file systems
 * allow, or (on Windows) a device name such as `con` or `lpt1`, or a character Windows refuses.
 */
export function localNameProblem(path: string, platform: NodeJS.Platform = process.platform): string | undefined {
  for (const segment of path.split("/")) {
    if (Buffer.byteLength(segment) > _NAME_MAX_BYTES) return `a name longer than ${_NAME_MAX_BYTES} bytes`;
    if (platform !== "win32") continue;
    if (_WINDOWS_DEVICE.test(segment)) return "a Windows device name";
    if (/[<>:"|?*]|[. ]$/.test(segment)) return "a name Windows cannot store";
  }
  return undefined;
}

// --- internal ---

/** Longest file name most file systems store (ext4, APFS, NTFS in UTF-16 units, roughly). */
const _NAME_MAX_BYTES = 255;

/** CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension: devices, not files, on Windows. */
const _WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

// C0 controls, DEL and C1 controls: they corrupt terminals and log lines and no web host needs them.
const _CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
