import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { SiteloomError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import type { StateStore } from "../store/index.ts";
import { ArticleSchema } from "./article.ts";

/**
 * Articles in the state store. With PostgreSQL, the store holds every article of every site (documents
 * `articles/<site>/<slug>`, the file's exact text), so any machine generates, enriches and publishes from the same
 * articles; a machine's `sites/<name>/articles/` is a working copy kept in step by `pullArticles` and written through
 * by `pushArticle`. With SQLite (one machine) the folder is the articles, as before: a second copy on the same disk
 * would only make conflicts.
 *
 * A folder synced with the store has a `.siteloom-articles.json` beside the articles: per slug, the store version
 * and sha256 of the text it last received or sent (the base). It decides every conflict:
 * - pull: a file equal to its base (not edited here) takes the store's newer text; a file edited here since its base
 *   is kept and reported (`--force` takes the store's); a file the store does not have is left alone.
 * - import: a file edited since its base replaces the store's text when the store still has the base version; a file
 *   equal to its base while the store moved on is an older copy and is skipped; a file edited here while the store
 *   also moved on (or with no base, differing from the store) is a conflict: nothing is imported, unless `--force`
 *   (the files win).
 */

/** Store namespace of articles; the key is `<site>/<slug>`. */
export const ARTICLES_NAMESPACE = "articles";
/** The sync record of a folder synced with the store. */
export const ARTICLES_SYNC_FILE = ".siteloom-articles.json";

/** Whether articles live in this store (PostgreSQL) rather than in the site folders only (SQLite). */
export function articlesInStore(store: StateStore): boolean {
  return store.kind === "postgres";
}

/**
 * Where articles live in the store, brings the folder in step with it before the folder is read (pipeline steps,
 * review) and returns the slugs kept because they were edited here; with SQLite it does nothing.
 */
export async function pullSharedArticles(store: StateStore, site: string, dir: string): Promise<string[]> {
  if (!articlesInStore(store)) return [];
  const report = await pullArticles({ store, site, dir });
  // articles written here that never reached the store (a process killed between the file and the store write, or
  // a workspace that used SQLite before) are stored now; one another process stored meanwhile is left to the next pull
  for (const slug of report.unstored) {
    const text = await readFile(join(dir, `${slug}.json`), "utf8");
    try {
      const doc = await store.putDocument(ARTICLES_NAMESPACE, `${site}/${slug}`, text, { expectedVersion: 0 });
      await _updateSync(dir, { [slug]: { version: doc.version, sha256: _sha(text) } });
    } catch (error) {
      if ((error as SiteloomError).code !== "ERR_STORE_CONFLICT") throw error;
    }
  }
  return report.kept;
}

/** Where articles live in the store, writes an article file just written there too; with SQLite it does nothing. */
export async function pushSharedArticle(store: StateStore, site: string, dir: string, slug: string): Promise<void> {
  if (articlesInStore(store)) await pushArticle({ store, site, dir, slug });
}

export interface ArticleSyncOptions {
  store: StateStore;
  site: string;
  /** The folder: `sites/<name>/articles`, or any folder for export/import. */
  dir: string;
  /** pull/export: the store's text replaces files edited here too; import: the files replace the store's. */
  force?: boolean;
}

export interface PullReport {
  /** Slugs written from the store (new here, or changed in the store). */
  written: string[];
  /** Slugs already equal to the store's. */
  unchanged: number;
  /** Slugs edited here since their last sync and changed in the store: kept, not overwritten (see `force`). */
  kept: string[];
  /** Valid articles here that the store does not have (never synced). */
  unstored: string[];
}

/** Brings a folder in step with the store's articles of a site (see the file comment for conflicts). */
export async function pullArticles(options: ArticleSyncOptions): Promise<PullReport> {
  const { store, site, dir } = options;
  const base = await _readSync(dir);
  const report: PullReport = { written: [], unchanged: 0, kept: [], unstored: [] };
  const docs = await store.listDocuments<string>(ARTICLES_NAMESPACE, `${site}/`);
  const inStore = new Set(docs.map((doc) => doc.key.slice(site.length + 1)));
  for (const name of await _articleFiles(dir)) {
    const slug = name.slice(0, -".json".length);
    if (inStore.has(slug) || base[slug] !== undefined) continue;
    if (_invalid(await readFile(join(dir, name), "utf8"), slug) === undefined) report.unstored.push(slug);
  }
  for (const doc of docs) {
    const slug = doc.key.slice(site.length + 1);
    const stored = { version: doc.version, sha256: _sha(doc.value) };
    const local = await readFile(join(dir, `${slug}.json`), "utf8").catch(() => undefined);
    const known = base[slug];
    if (local !== undefined && _sha(local) === stored.sha256) {
      report.unchanged++;
    } else if (local === undefined || options.force || (known !== undefined && _sha(local) === known.sha256)) {
      await writeFileAtomic(join(dir, `${slug}.json`), doc.value);
      report.written.push(slug);
    } else {
      report.kept.push(slug);
      continue; // its base stays: an import later sees the edit and the store's move
    }
    base[slug] = stored;
  }
  await _writeSync(dir, base);
  return report;
}

/** Writes one article's file text to the store (after its file was written) and records it as the folder's base. */
export async function pushArticle(options: Omit<ArticleSyncOptions, "force"> & { slug: string }): Promise<void> {
  const text = await readFile(join(options.dir, `${options.slug}.json`), "utf8");
  const doc = await options.store.putDocument(ARTICLES_NAMESPACE, `${options.site}/${options.slug}`, text);
  await _updateSync(options.dir, { [options.slug]: { version: doc.version, sha256: _sha(text) } });
}

export interface ImportReport {
  /** Slugs new in the store, and slugs whose store text was replaced. */
  added: string[];
  updated: string[];
  unchanged: number;
  /** Older copies: equal to what was last exported while the store moved on (the store's text stays). */
  older: string[];
  /** Edited here and in the store (or never synced and different): with `force` they were imported. */
  conflicts: string[];
}

/**
 * Imports a folder's articles into the store. Planned first: every file is validated and compared, and with an
 * invalid file or a conflict (without `force`) nothing is written. Each write checks the store version it planned
 * against, so an article changed meanwhile by another process is a conflict too (ERR_STORE_CONFLICT).
 */
export async function importArticles(options: ArticleSyncOptions): Promise<ImportReport> {
  const { store, site, dir } = options;
  const base = await _readSync(dir);
  const names = await _articleFiles(dir);
  const report: ImportReport = { added: [], updated: [], unchanged: 0, older: [], conflicts: [] };
  const invalid: string[] = [];
  const writes: { slug: string; text: string; expectedVersion: number }[] = [];
  for (const name of names) {
    const slug = name.slice(0, -".json".length);
    const text = await readFile(join(dir, name), "utf8");
    const problem = _invalid(text, slug);
    if (problem !== undefined) {
      invalid.push(`${name}: ${problem}`);
      continue;
    }
    const doc = await store.getDocument<string>(ARTICLES_NAMESPACE, `${site}/${slug}`);
    const known = base[slug];
    const sha = _sha(text);
    if (doc === undefined) {
      report.added.push(slug);
      writes.push({ slug, text, expectedVersion: 0 });
    } else if (_sha(doc.value) === sha) {
      report.unchanged++;
      base[slug] = { version: doc.version, sha256: sha };
    } else if (known !== undefined && known.version === doc.version) {
      report.updated.push(slug); // edited here; the store still has what this folder last saw
      writes.push({ slug, text, expectedVersion: doc.version });
    } else if (known !== undefined && known.sha256 === sha) {
      report.older.push(slug); // not edited here; the store moved on
    } else {
      report.conflicts.push(slug);
      if (options.force) writes.push({ slug, text, expectedVersion: doc.version });
    }
  }
  if (invalid.length > 0) {
    throw new SiteloomError(
      "ERR_ARTICLE_INVALID",
      `${invalid.length} file(s) in ${dir} are not valid articles; nothing was imported`,
      {
        site,
        details: invalid,
      },
    );
  }
  if (report.conflicts.length > 0 && !options.force) {
    throw new SiteloomError(
      "ERR_STORE_CONFLICT",
      `${report.conflicts.length} article(s) were edited both in ${dir} and in the store since they were last exported; nothing was imported. Run \`siteloom articles export ${site} <another dir>\` to compare, or import with --force to keep the files' versions`,
      { site, details: report.conflicts.map((slug) => `  ${slug}`) },
    );
  }
  for (const write of writes) {
    const doc = await store.putDocument(ARTICLES_NAMESPACE, `${site}/${write.slug}`, write.text, {
      expectedVersion: write.expectedVersion,
    });
    base[write.slug] = { version: doc.version, sha256: _sha(write.text) };
  }
  await _writeSync(dir, base);
  return report;
}

// --- internal ---

type _Sync = Record<string, { version: number; sha256: string }>;

/** The `<slug>.json` file names of a folder, sorted (none when it does not exist). */
async function _articleFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => n.endsWith(".json") && !n.startsWith("."))
    .sort();
}

function _sha(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function _invalid(text: string, slug: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  const parsed = ArticleSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`;
  }
  return parsed.data.slug === slug ? undefined : `its slug is "${parsed.data.slug}" but the file is named ${slug}.json`;
}

async function _readSync(dir: string): Promise<_Sync> {
  try {
    const value = JSON.parse(await readFile(join(dir, ARTICLES_SYNC_FILE), "utf8")) as unknown;
    return value !== null && typeof value === "object" ? (value as _Sync) : {};
  } catch {
    return {};
  }
}

async function _writeSync(dir: string, sync: _Sync): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(sync).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await writeFileAtomic(join(dir, ARTICLES_SYNC_FILE), `${JSON.stringify(sorted, null, 1)}\n`);
}

/** Sync record updates of one process, one at a time per folder (generation writes articles concurrently). */
const _UPDATES = new Map<string, Promise<void>>();

function _updateSync(dir: string, entries: _Sync): Promise<void> {
  const next = (_UPDATES.get(dir) ?? Promise.resolve())
    .catch(() => {})
    .then(async () => _writeSync(dir, { ...(await _readSync(dir)), ...entries }));
  _UPDATES.set(dir, next);
  return next;
}
