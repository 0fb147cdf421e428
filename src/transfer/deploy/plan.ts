import ignore from "ignore";

/** Upload phases, in order: a visitor never gets a page whose assets are missing, or a sitemap naming a missing page. */
export const PHASES = ["assets", "pages", "indexes"] as const;
export type Phase = (typeof PHASES)[number];

/** Which phase a file is uploaded in. */
export function phaseOf(path: string): Phase {
  const name = (path.split("/").at(-1) ?? path).toLowerCase();
  if (
    name === "robots.txt" ||
    /^sitemap[^/]*\.xml(\.gz)?$/.test(name) ||
    /\.(rss|atom)$/.test(name) ||
    /^(feed|rss|atom|index)\.(xml|json)$/.test(name) ||
    name === "feed.json"
  ) {
    return name === "index.json" ? "assets" : "indexes";
  }
  if (/\.(html?|xhtml|shtml|php)$/.test(name)) return "pages";
  return "assets";
}

/**
 * Temp names: `.in.<name>.<runId>`, the 8 hex characters shared by one run so a rerun can find its partial files,
 * and `-<tag>` (4 hex) on an attempt that had to start again in a new file (see `tempNameFor`).
 */
export const TEMP_NAME = /^\.in\..+\.[0-9a-f]{8}(?:-[0-9a-f]{4})?$/;

/**
 * `dir/.in.<name>.<runId>[-<tag>]`: the temp name a file is uploaded to before the rename over its final name. An
 * attempt that starts from byte 0 again takes a new tag: a server process of the broken attempt may still be writing
 * the old temp file (and would keep writing into it after a rename), so that file is only ever resumed or removed.
 */
export function tempNameFor(path: string, runId: string, tag?: string): string {
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "" : path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  return `${dir}.in.${name}.${runId}${tag === undefined ? "" : `-${tag}`}`;
}

/** Whether a remote name is one of our temp files (left over by a crash). */
export function isTempName(path: string): boolean {
  return TEMP_NAME.test(path.split("/").at(-1) ?? path);
}

/** gitignore-style matcher: `matches(path, isDir)`. */
export function createMatcher(patterns: readonly string[]): (path: string, isDir?: boolean) => boolean {
  const ig = ignore().add([...patterns]);
  return (path, isDir = false) => path !== "" && ig.ignores(isDir ? `${path}/` : path);
}

/** Parent directories of a path, outermost first ("a/b/c.txt" → ["a", "a/b"]). */
export function parentsOf(path: string): string[] {
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

/** Normalises `deploy.manifestPath` to a relative folder ("./.siteloom/" → ".siteloom"). */
export function normaliseManifestDir(value: string): string | undefined {
  const trimmed = value.replace(/^\.\/+/, "").replace(/\/+$/, "");
  if (trimmed === "" || trimmed.startsWith("/") || trimmed.split("/").includes("..")) return undefined;
  return trimmed;
}
