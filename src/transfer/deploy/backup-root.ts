// Where a deploy keeps the versions it replaces (`deploy.backupDir`): a folder outside the web root where the account
// can have one, else the deny-all folder beside the manifest.
import { posix } from "node:path";
import { SiteloomError } from "../../errors.ts";
import { normalizeRoot } from "../paths.ts";

/** The folder, beside remote.root, that `deploy.backupDir: auto` keeps one backup root per site folder in. */
export const OUTSIDE_BACKUPS_DIR = ".siteloom-backups";

/**
 * The backup root outside remote.root that `deploy.backupDir` names, as a server path (absolute, or relative to the
 * login folder), or undefined for the folder inside (`inside`, or `auto` with a root that has no parent: `/`, `.`).
 * `auto`: `<parent of remote.root>/.siteloom-backups/<its last segment>`. A path inside remote.root is refused.
 */
export function resolveBackupRoot(remoteRoot: string, backupDir: string): string | undefined {
  const root = normalizeRoot(remoteRoot);
  if (backupDir === "inside") return undefined;
  if (backupDir === "auto") {
    if (root === "/" || root === "." || root.split("/").includes("..")) return undefined;
    return posix.join(posix.dirname(root), OUTSIDE_BACKUPS_DIR, posix.basename(root));
  }
  const dir = normalizeRoot(backupDir);
  const sameKind = dir.startsWith("/") === root.startsWith("/");
  const within = (inner: string, outer: string) =>
    outer === "." ? !inner.startsWith("..") : inner === outer || inner.startsWith(outer === "/" ? "/" : `${outer}/`);
  if (
    dir === "/" ||
    dir === "." ||
    dir.split("/").includes("..") ||
    (sameKind && (within(dir, root) || within(root, dir)))
  ) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `deploy.backupDir "${backupDir}" must be a folder outside remote.root "${remoteRoot}" (and not one that holds it): use "auto", "inside" or another server path`,
    );
  }
  return dir;
}
