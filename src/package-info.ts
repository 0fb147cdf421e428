import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The installed siteloom package's root. Found by walking up from this module, because the build bundles code into
 * chunks at different depths of dist/ (and tests run it from src/): a fixed "../.." would be wrong somewhere.
 */
export function findPackageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (_manifest(dir)?.name === "siteloom") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the siteloom package root above ${from}`);
    dir = parent;
  }
}

/** The version in siteloom's package.json: the one place it is written. */
export const PACKAGE_VERSION: string = _manifest(findPackageRoot())?.version ?? "0.0.0";

// --- internal ---

function _manifest(dir: string): { name?: string; version?: string } | undefined {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
  } catch {
    // an unreadable package.json on the way up is not ours
    return undefined;
  }
}
