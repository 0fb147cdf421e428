import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { findPackageRoot } from "../package-info.ts";

export { findPackageRoot };

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
