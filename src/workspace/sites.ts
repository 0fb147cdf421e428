import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { RemoteSchema, releaseInFolderLock, renderSiteTemplate, SiteConfigSchema, showValue } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { type SiteDataPaths, siteDataPaths } from "./data-dir.ts";
import { SITE_FILE, SITES_DIR } from "./load.ts";
import { schemaRef } from "./package-root.ts";

/** Site names: lowercase slugs (they are folder names, secret scopes and variable segments). */
export const SITE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** The header every new topics.csv gets. */
export const TOPICS_HEADER = "topic,keywords,category,tags";

/** Options for addSite. */
export interface AddSiteOptions {
  /** Workspace root. */
  root: string;
  /** Site name (a lowercase slug). */
  name: string;
  /** The site's domain, e.g. example.com. */
  domain: string;
  /** Remote settings written to site.yaml. */
  remote?: { protocol?: string; host?: string; port?: number; user?: string; root?: string };
}

/**
 * Names Windows cannot have as a file or folder (with any extension): a workspace with such a site could not be
 * checked out or copied there.
 */
export const WINDOWS_DEVICE_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** Throws ERR_SITE_INVALID_NAME unless `name` is a usable site name; the message suggests one. */
export function checkSiteName(name: string): void {
  if (WINDOWS_DEVICE_NAMES.test(name)) {
    throw new SiteloomError(
      "ERR_SITE_INVALID_NAME",
      `"${name}" is a Windows device name and cannot be a folder there; choose another site name (e.g. ${name}-site)`,
    );
  }
  if (name === "global") {
    throw new SiteloomError(
      "ERR_SITE_INVALID_NAME",
      `"global" is reserved (it is the secret scope shared by all sites); choose another site name`,
    );
  }
  if (!SITE_NAME_PATTERN.test(name)) {
    const slug = name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 63);
    throw new SiteloomError(
      "ERR_SITE_INVALID_NAME",
      `invalid site name "${name}": use lowercase letters, digits and hyphens (1-63 characters, no leading or trailing hyphen)${slug && slug !== name ? `, e.g. "${slug}"` : ""}`,
    );
  }
}

/** Creates sites/<name>/site.yaml and topics.csv; the folder appears complete or not at all. */
export async function addSite(options: AddSiteOptions): Promise<{ dir: string; files: string[] }> {
  checkSiteName(options.name);
  const domain = SiteConfigSchema.shape.domain.safeParse(options.domain);
  if (!domain.success) {
    throw new SiteloomError(
      "ERR_USAGE",
      `--domain: expected a domain such as example.com, got ${showValue(options.domain)}`,
    );
  }
  const remote = _clean({ protocol: "ftp", root: "/", ...options.remote });
  const checked = RemoteSchema.safeParse(remote);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const key = String(issue.path[0] ?? "remote");
    throw new SiteloomError(
      "ERR_USAGE",
      `--${key}: ${issue.message}, got ${showValue((remote as Record<string, unknown>)[key])}`,
    );
  }
  const sitesDir = join(options.root, SITES_DIR);
  const dir = join(sitesDir, options.name);
  if (existsSync(dir)) {
    throw new SiteloomError(
      "ERR_SITE_EXISTS",
      `site "${options.name}" already exists (${SITES_DIR}/${options.name}/); choose another name or remove it with siteloom site remove ${options.name}`,
    );
  }
  // build in a hidden temporary folder, then rename: an interrupted add leaves no half-made site behind
  const tmp = join(sitesDir, `.${options.name}.${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const text = renderSiteTemplate({
      schemaRef: schemaRef(dir, "site.schema.json"),
      name: options.name,
      domain: options.domain,
      remote: remote as never,
    });
    await writeFileAtomic(join(tmp, SITE_FILE), text);
    await writeFileAtomic(join(tmp, "topics.csv"), `${TOPICS_HEADER}\n`);
    await rename(tmp, dir);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  return { dir, files: [join(dir, SITE_FILE), join(dir, "topics.csv")] };
}

/** What a site folder holds, for `site show` and the `site remove` question. */
export interface SiteContents {
  /** Files under export/, articles/, output/ (0 when the folder is missing). */
  export: number;
  articles: number;
  output: number;
  /** Topic rows in topics.csv (lines after the header that are not empty). */
  topics: number;
}

/** Counts what a site's folders hold (`paths` as siteDataPaths gives them, plus its topics.csv). */
export async function inspectSite(paths: Omit<SiteDataPaths, "data"> & { topics: string }): Promise<SiteContents> {
  return {
    export: await _countFiles(paths.export),
    articles: await _countFiles(paths.articles),
    output: await _countFiles(paths.output),
    topics: await _countTopics(paths.topics),
  };
}

/** Options for removeSite. */
export interface RemoveSiteOptions {
  root: string;
  name: string;
  /** Keep export/, articles/ and output/ (only site.yaml and topics.csv go). */
  keepData?: boolean;
  /** The workspace's data folder (resolveDataDir), whose <name>/ goes too unless keepData. */
  dataDir?: string | undefined;
}

/** Removes a site folder (or, with keepData, only its configuration); returns what was removed. */
export async function removeSite(options: RemoveSiteOptions): Promise<{ removed: string[]; kept: string[] }> {
  checkSiteName(options.name);
  const dir = join(options.root, SITES_DIR, options.name);
  if (!existsSync(join(dir, SITE_FILE))) {
    throw new SiteloomError(
      "ERR_SITE_NOT_FOUND",
      `no site "${options.name}" in ${options.root}; see siteloom site list`,
    );
  }
  const rel = `${SITES_DIR}/${options.name}`;
  // an older build's lock inside the folder, held by the caller's config lock: let go before the folder changes
  await releaseInFolderLock(join(dir, SITE_FILE));
  if (options.keepData) {
    const removed: string[] = [];
    for (const file of [SITE_FILE, "topics.csv"]) {
      if (existsSync(join(dir, file))) {
        await rm(join(dir, file));
        removed.push(`${rel}/${file}`);
      }
    }
    // dot names (lock files, an editor's) are not the site's data
    const kept = (await readdir(dir)).filter((entry) => !entry.startsWith(".")).map((entry) => `${rel}/${entry}`);
    return { removed, kept };
  }
  // rename first so a crash midway never leaves a half-deleted site that still loads
  const trash = join(options.root, SITES_DIR, `.${options.name}.${process.pid}.removing`);
  await rename(dir, trash);
  await rm(trash, { recursive: true, force: true });
  const removed = [`${rel}/`];
  const data = siteDataPaths(options.root, options.name, options.dataDir).data;
  if (options.dataDir && existsSync(data)) {
    await rm(data, { recursive: true, force: true });
    removed.push(`${data}/`);
  }
  return { removed, kept: [] };
}

// --- internal ---

function _clean<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== "")) as T;
}

async function _countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

async function _countTopics(file: string): Promise<number> {
  try {
    if (!(await stat(file)).isFile()) return 0;
    const lines = (await readFile(file, "utf8")).split(/\r?\n/).slice(1);
    return lines.filter((line) => line.trim() !== "").length;
  } catch {
    return 0;
  }
}
