// A remote.root that does not exist yet: a first deploy creates it (below a parent that exists, as `lftp mirror -R` and
// `rclone sync` do; the backends create the site root alone, never its parents), a dry run says it would, and an
// export says it is not there in one line.
import { SiteloomError } from "../errors.ts";
import { isMissingError } from "./pool.ts";
import type { RemotePool } from "./types.ts";

/** Whether remote.root itself is missing on the server: a listing of it fails as missing. */
export async function isRootMissing(pool: RemotePool): Promise<boolean> {
  return pool.run(async (fs) =>
    fs.list("").then(
      () => false,
      (error: unknown) => {
        if (isMissingError(error)) return true;
        throw error;
      },
    ),
  );
}

/**
 * Before a deploy lists the server (its manifest was not found): when remote.root is missing, creates it (not in a dry
 * run) and notes so. Returns whether it was missing (the server holds nothing then).
 */
export async function createMissingRoot(
  pool: RemotePool,
  options: { site: string; dryRun: boolean; notes: string[]; retry: <T>(fn: () => Promise<T>) => Promise<T> },
): Promise<boolean> {
  if (!(await options.retry(() => isRootMissing(pool)))) return false;
  if (options.dryRun) {
    options.notes.push("remote.root does not exist on the server: the deploy would create it (its parent must exist)");
    return true;
  }
  try {
    await options.retry(() => pool.run((fs) => fs.mkdir("")));
  } catch (error) {
    const reply = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
    throw new SiteloomError(
      "ERR_DEPLOY_FAILED",
      `remote.root does not exist on the server and cannot be created there (is its parent folder there?): ${reply}`,
      { site: options.site, cause: error },
    );
  }
  options.notes.push("remote.root did not exist on the server: created it");
  return true;
}

/** An export's listing failed: when remote.root itself is missing, says so in one line; else the failure as it is. */
export async function explainListingFailure(pool: RemotePool, error: unknown, site: string): Promise<never> {
  if (isMissingError(error) && (await isRootMissing(pool).catch(() => false))) {
    throw new SiteloomError("ERR_TRANSFER_IO", "remote.root does not exist on the server: nothing to export", {
      site,
      cause: error,
    });
  }
  throw error;
}
