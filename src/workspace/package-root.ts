import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * The installed siteloom package's root. Found by walking up from this module, because the build bundles code into
 * chunks at different depths of dist/ (and tests run it from src/): a fixed "../.." would be wrong somewhere.
 */
export function findPackageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "siteloom") return dir;
      } catch {
        // an unreadable package.json on the way up is not ours
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the siteloom package root above ${from}`);
    dir = parent;
  }
}

/** The bundled example workspace (examples/workspace in the package). */
export function exampleWorkspaceDir(): string {
  return join(findPackageRoot(), "examples", "workspace");
}

/**
 * What a `# yaml-language-server: $schema=` line in a file of `fromDir` should say to reach the shipped schema:
 * a relative path when the package sits inside the workspace (node_modules/siteloom/schema/...), so the line keeps
 * working for everyone who clones it; otherwise a file:// URL to the installed package.
 */
export function schemaRef(fromDir: string, schemaFile: "siteloom.schema.json" | "site.schema.json"): string {
  const target = join(findPackageRoot(), "schema", schemaFile);
  const rel = relative(fromDir, target).split("\\").join("/");
  if (!rel.startsWith("..") && !rel.startsWith("/")) return `./${rel}`;
  return pathToFileURL(target).href;
}
