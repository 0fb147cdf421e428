// The backup root and remote.root must be apart on the server, not only in the configuration: a relative path beside
// an absolute one, or a symlink, can put one inside the other. Each backend resolves both roots the way its protocol
// can (SFTP realpath, local realpath, FTP PWD after CWD) and guards its backup view with this check.
import { posix } from "node:path";
import { SiteloomError } from "../errors.ts";
import { printablePath } from "./paths.ts";
import type { PutOptions, RemoteFS } from "./types.ts";

/**
 * Where an absolute server path really is: `real` of its deepest existing folder (undefined when missing), with the
 * missing rest appended.
 */
export async function realLocation(path: string, real: (path: string) => Promise<string | undefined>): Promise<string> {
  const missing: string[] = [];
  let probe = path;
  for (;;) {
    const found = await real(probe);
    if (found !== undefined) return posix.join(found, ...missing.reverse());
    const parent = posix.dirname(probe);
    if (parent === probe) return path;
    missing.push(posix.basename(probe));
    probe = parent;
  }
}

/** Refuses a backup root that is remote.root, inside it or holds it (both real, absolute server paths). */
export function refuseOverlap(siteReal: string, backupsReal: string, backupRoot: string): void {
  const within = (inner: string, outer: string) =>
    inner === outer || inner.startsWith(outer === "/" ? "/" : `${outer}/`);
  if (!within(backupsReal, siteReal) && !within(siteReal, backupsReal)) return;
  const where = within(backupsReal, siteReal) ? "inside remote.root" : "a folder that holds remote.root";
  throw new SiteloomError(
    "ERR_CONFIG_INVALID",
    `deploy.backupDir: the backup root "${printablePath(backupRoot)}" is ${where} on the server (${printablePath(backupsReal)}, remote.root ${printablePath(siteReal)}): backups there would be served; use "inside" or a server path outside remote.root`,
  );
}

/**
 * `fs` whose backup view (its operations, the moves both ways, and a put that keeps the previous version there) first
 * waits for `apart` (refuseOverlap on the resolved roots): asked once, when a backup is first touched.
 */
export function guardBackups(fs: RemoteFS, apart: () => Promise<void>): RemoteFS {
  const backups = fs.backups;
  if (backups === undefined) return fs;
  let checked: Promise<void> | undefined;
  const ready = () => {
    checked ??= apart();
    return checked;
  };
  const guarded = {} as Record<string, unknown>;
  for (const [key, value] of Object.entries(backups.fs)) {
    guarded[key] =
      typeof value === "function" && key !== "close"
        ? async (...args: unknown[]) => {
            await ready();
            return (value as (...a: unknown[]) => unknown).apply(backups.fs, args);
          }
        : value;
  }
  const put = fs.put;
  return Object.defineProperties(
    {
      ...fs,
      ...(put === undefined
        ? {}
        : {
            put: async (
              source: Parameters<NonNullable<RemoteFS["put"]>>[0],
              temp: string,
              path: string,
              options?: PutOptions,
            ) => {
              if (options?.keepIn === "backups") await ready();
              return put(source, temp, path, options);
            },
          }),
      backups: {
        root: backups.root,
        fs: guarded as unknown as RemoteFS,
        moveIn: async (from: string, to: string) => {
          await ready();
          return backups.moveIn(from, to);
        },
        moveOut: async (from: string, to: string) => {
          await ready();
          return backups.moveOut(from, to);
        },
      },
    },
    { closed: { get: () => fs.closed, enumerable: true } },
  );
}
