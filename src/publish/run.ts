import { readFile } from "node:fs/promises";
import { basename, extname, join, normalize } from "node:path";
import pLimit from "p-limit";
import { type Article, loadArticles } from "../content/index.ts";
import { taxonomySlug } from "../enrich/index.ts";
import { isSiteloomError, SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import type { StateStore } from "../store/index.ts";
import type { SiteContext, Workspace } from "../workspace/index.ts";
import { createWordpressClient, type WordpressClient } from "./client.ts";
import { escapeHtml, type PostContext, renderPost, sha256 } from "./content.ts";
import { describePlan, type PlanAction, planPublish } from "./plan.ts";
import type { XmlRpcValue } from "./xmlrpc.ts";

/** Name of the custom field that marks a post as siteloom's (value `<site>:<article id>`). */
export const MARKER_FIELD = "siteloom_article";

export interface RunPublishOptions {
  workspace: Workspace;
  site: SiteContext;
  store: StateStore;
  /** Plan only: no request at all. */
  dryRun?: boolean;
  /** At most this many creates + updates. */
  limit?: number | undefined;
  /** Send every ready article again, and look terms and media up again instead of trusting the cache. */
  force?: boolean;
  signal?: AbortSignal;
  /** Progress and notices. */
  onEvent?: (event: PublishEvent) => void;
}

export type PublishEvent =
  | { type: "progress"; done: number; total: number; slug: string }
  | { type: "info"; message: string }
  | { type: "warn"; message: string };

export interface PublishReport {
  site: string;
  env: string;
  /** The WordPress URL (never credentials). */
  url: string;
  dryRun: boolean;
  created: string[];
  /** Posts found again by slug and marker (state lost) and taken over. */
  adopted: string[];
  updated: string[];
  unchanged: string[];
  removed: { slug: string; postId: string; to: "draft" | "trash" }[];
  failed: { slug: string; message: string }[];
  /** Articles left for a later run by --limit. */
  deferred: number;
  media: { uploaded: number; reused: number };
  terms: { created: number };
  /** Requests sent (every try counts), writes among them, retries. */
  requests: number;
  writes: number;
  retries: number;
  plan: string[];
  warnings: string[];
}

/**
 * Publishes a site's ready articles to WordPress: plan from local facts (unchanged articles cost nothing), then
 * over the REST API find or create terms, upload media once by content hash, reserve new posts with a marker
 * (XML-RPC custom field) so a lost state never duplicates them, send the posts, fix links in a second pass, and
 * unpublish or trash the posts of removed articles as configured.
 */
export async function runPublish(options: RunPublishOptions): Promise<PublishReport> {
  const { site, workspace, store } = options;
  const cfg = site.config.wordpress;
  if (!cfg) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      `site "${site.name}" has no wordpress: section; add wordpress: { url, user, appPassword } to sites/${site.name}/site.yaml`,
      { site: site.name },
    );
  }
  const wpUrl = new URL(cfg.url);
  if (wpUrl.username || wpUrl.password) {
    throw new SiteloomError(
      "ERR_CONFIG_INVALID",
      "wordpress.url must not contain credentials: put the user in wordpress.user and the password in wordpress.appPassword (a secret:// reference)",
    );
  }
  const url = `${wpUrl.origin}${wpUrl.pathname.replace(/\/+$/, "")}`;
  const warn = (message: string) => {
    report.warnings.push(message);
    options.onEvent?.({ type: "warn", message });
  };
  const report: PublishReport = {
    site: site.name,
    env: workspace.env,
    url,
    dryRun: options.dryRun === true,
    created: [],
    adopted: [],
    updated: [],
    unchanged: [],
    removed: [],
    failed: [],
    deferred: 0,
    media: { uploaded: 0, reused: 0 },
    terms: { created: 0 },
    requests: 0,
    writes: 0,
    retries: 0,
    plan: [],
    warnings: [],
  };
  if (wpUrl.protocol === "http:") {
    if (workspace.env !== "development") {
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `wordpress.url is plain http:// in environment "${workspace.env}": the application password would cross the network unencrypted; use https:// (plain http is allowed only in development)`,
        { site: site.name },
      );
    }
    warn("wordpress.url is plain http://: the application password is sent unencrypted (allowed in development only)");
  }
  const target = `wordpress:${url}|${site.name}`;
  const siteInfo = _siteInfo(site);

  // --- local facts: ready articles, their images and the records of what was sent
  const loaded = await loadArticles(site.paths.articles);
  for (const line of loaded.invalid) warn(`skipped invalid article ${line}`);
  const ready = loaded.articles
    .map((a) => a.article)
    .filter((a) => a.status === "ready")
    .sort((a, b) => a.publishedAt.localeCompare(b.publishedAt) || a.slug.localeCompare(b.slug));
  const [postRecords, mediaRecords, termRecords, siteRecords] = await Promise.all([
    store.listPublished(target, "post"),
    store.listPublished(target, "media"),
    Promise.all([store.listPublished(target, "category"), store.listPublished(target, "tag")]),
    store.listPublished(target, "site"),
  ]);
  const records = new Map(postRecords.map((r) => [r.key, r]));
  const media = new Map(mediaRecords.map((r) => [r.key, r]));
  const terms = new Map([...termRecords[0], ...termRecords[1]].map((r) => [`${r.kind}:${r.key}`, r]));
  let seo = String(siteRecords.find((r) => r.key === "seo")?.info.mode ?? "none");
  const bySlug = new Map(ready.map((a) => [a.slug, a]));
  const links = new Map<string, string>();
  for (const a of ready) {
    const link = records.get(a.id)?.info.link;
    if (typeof link === "string") links.set(a.slug, link);
  }
  const files = new Map<string, { path: string; data: Buffer; hash: string } | null>();
  const readSiteFile = async (sitePath: string) => {
    if (!files.has(sitePath)) files.set(sitePath, await _readSiteFile(site, sitePath));
    return files.get(sitePath) ?? null;
  };
  const context = (mediaUrl: (p: string) => string | undefined): PostContext => ({
    siteBaseUrl: siteInfo.baseUrl,
    siteHost: siteInfo.host,
    blogPath: siteInfo.blogPath,
    otherLinks: cfg.otherLinks,
    permalink: (slug) => (bySlug.has(slug) ? links.get(slug) : undefined),
    mediaUrl,
  });
  const inputsHash = async (article: Article) => {
    const rendered = renderPost(
      article,
      context(() => undefined),
    );
    const images: Record<string, string | null> = {};
    for (const p of [...rendered.images, ..._featuredPath(article, siteInfo.host)]) {
      images[p] = (await readSiteFile(p))?.hash ?? null;
    }
    const linked = Object.fromEntries(rendered.linkedSlugs.map((s) => [s, links.get(s) ?? null]));
    const { usage: _usage, ...content } = article;
    return sha256(
      JSON.stringify({
        v: 1,
        content,
        images,
        linked,
        seo,
        config: [cfg.status, cfg.author ?? null, cfg.otherLinks, siteInfo.baseUrl, siteInfo.blogPath],
      }),
    );
  };
  const hashed = [];
  for (const article of ready) hashed.push({ article, hash: await inputsHash(article) });
  const plan = planPublish({
    articles: hashed,
    records,
    onRemoved: cfg.onRemoved,
    force: options.force === true,
    limit: options.limit,
  });
  report.plan = describePlan(plan);
  report.deferred = plan.deferred;
  for (const a of plan.actions) if (a.kind === "unchanged") report.unchanged.push(a.article.slug);
  const work = plan.actions.filter((a) => a.kind !== "unchanged");
  if (options.dryRun || work.length === 0) return report;

  // --- the WordPress side
  const password = await workspace.resolve(cfg.appPassword, { field: "wordpress.appPassword", site: site.name });
  const client = createWordpressClient({
    url,
    user: cfg.user,
    appPassword: password,
    ca: cfg.caFile ? await readFile(cfg.caFile, "utf8") : undefined,
    concurrency: cfg.concurrency,
    timeoutMs: cfg.timeoutMs,
    retries: cfg.retries,
    retryBaseMs: cfg.retryBaseMs,
    retryMaxMs: cfg.retryMaxMs,
    signal: options.signal,
    onRetry: (r) => options.onEvent?.({ type: "info", message: `retrying in ${r.delayMs} ms: ${r.reason}` }),
  });
  const actor = currentActor();
  const audit = (
    action: `wordpress.${"publish" | "upload" | "unpublish" | "trash"}`,
    ref: string,
    outcome: "ok" | "error" = "ok",
    error?: string,
  ) =>
    publishEvent({
      action,
      ref,
      store: "-",
      env: workspace.env,
      actor,
      outcome,
      ...(error ? { error } : {}),
    });
  try {
    // one request tells whether the credentials work; a 401/403 stops here
    await client.rest("GET", "/wp/v2/users/me?context=edit&_fields=id");
    const index = await client.rest<{ namespaces?: unknown }>("GET", "/?_fields=namespaces");
    const namespaces = Array.isArray(index?.namespaces) ? (index.namespaces as unknown[]).map(String) : [];
    const detected = namespaces.includes("yoast/v1")
      ? "yoast"
      : namespaces.includes("rankmath/v1")
        ? "rankmath"
        : "none";
    if (detected !== seo) {
      seo = detected;
      await store.savePublished({ target, kind: "site", key: "seo", remoteId: "", hash: "", info: { mode: seo } });
      // the SEO fields changed: every article's inputs did too
      for (const h of hashed) h.hash = await inputsHash(h.article);
    }
    const sends = work.filter((a): a is Extract<PlanAction, { kind: "create" | "update" }> => a.kind !== "remove");
    const failed = new Set<string>();
    const fail = (article: Article, error: unknown) => {
      if (isSiteloomError(error) && (error.code === "ERR_PUBLISH_AUTH" || error.code === "ERR_INTERRUPTED")) {
        throw error;
      }
      const message = (error as Error).message;
      failed.add(article.id);
      report.failed.push({ slug: article.slug, message });
      audit("wordpress.publish", `${url} ${article.slug}`, "error", message);
      // WordPress unreachable even after the retries: the other articles would only wait the same
      if (isSiteloomError(error) && error.code === "ERR_PUBLISH_CONNECT") throw error;
    };

    // --- posts whose record is lost: found again by slug + our marker, never created twice
    const ids = new Map<string, string>();
    for (const a of sends) if (a.kind === "update") ids.set(a.article.id, a.record.remoteId);
    const orphans = sends.filter((a) => a.kind === "create").map((a) => a.article);
    const statuses = "publish,future,draft,pending,private";
    const known = new Map<string, WpPost>();
    for (const chunk of _chunks(orphans, 50)) {
      const found = await client.rest<WpPost[]>(
        "GET",
        `/wp/v2/posts?slug=${chunk.map((a) => a.slug).join(",")}&status=${statuses}&context=edit&per_page=100&_fields=${POST_FIELDS}`,
      );
      for (const post of found) {
        const article = chunk.find((a) => a.slug === post.slug);
        if (!article) continue;
        const fields = (await client.xmlrpc("wp.getPost", [post.id, ["custom_fields"]])) as Record<string, XmlRpcValue>;
        const custom = Array.isArray(fields.custom_fields)
          ? (fields.custom_fields as Record<string, XmlRpcValue>[])
          : [];
        if (custom.some((f) => f.key === MARKER_FIELD && f.value === `${site.name}:${article.id}`)) {
          ids.set(article.id, String(post.id));
          known.set(String(post.id), post);
          report.adopted.push(article.slug);
          await _saveRecord(store, target, article, String(post.id), "", {});
        } else if (!ids.has(article.id)) {
          fail(
            article,
            new SiteloomError(
              "ERR_PUBLISH_FAILED",
              `a post with the slug "${article.slug}" (id ${post.id}) already exists and has no siteloom marker: rename the article's slug or remove that post`,
            ),
          );
        }
      }
    }
    const toSend = sends.filter((a) => !failed.has(a.article.id));

    // --- categories and tags: found or created by slug, cached in the store
    const termId = new Map<string, number>();
    for (const kind of ["category", "tag"] as const) {
      const wanted = new Map<string, string>();
      for (const { article } of toSend) {
        for (const name of kind === "category" ? (article.category ? [article.category] : []) : article.tags) {
          wanted.set(taxonomySlug(name), name);
        }
      }
      const missing: string[] = [];
      for (const slug of wanted.keys()) {
        const cached = terms.get(`${kind}:${slug}`);
        if (cached && !options.force) termId.set(`${kind}:${slug}`, Number(cached.remoteId));
        else missing.push(slug);
      }
      const endpoint = kind === "category" ? "categories" : "tags";
      for (const chunk of _chunks(missing, 50)) {
        const found = await client.rest<{ id: number; slug: string }[]>(
          "GET",
          `/wp/v2/${endpoint}?slug=${chunk.map(encodeURIComponent).join(",")}&per_page=100&_fields=id,slug`,
        );
        for (const t of found) termId.set(`${kind}:${t.slug.toLowerCase()}`, t.id);
      }
      for (const slug of missing) {
        if (!termId.has(`${kind}:${slug}`)) {
          const id = await _createTerm(client, endpoint, wanted.get(slug) ?? slug, slug);
          report.terms.created++;
          termId.set(`${kind}:${slug}`, id);
        }
        await store.savePublished({
          target,
          kind,
          key: slug,
          remoteId: String(termId.get(`${kind}:${slug}`)),
          hash: "",
          info: { name: wanted.get(slug) ?? slug },
        });
      }
    }

    // --- media: every image file once, by content hash
    const mediaFor = new Map<string, { id: number; url: string }>();
    const neededFiles = new Map<string, { path: string; data: Buffer; hash: string; alt: string; caption: string }>();
    for (const { article } of toSend) {
      const rendered = renderPost(
        article,
        context(() => undefined),
      );
      const featured = _featuredPath(article, siteInfo.host);
      for (const p of [...featured, ...rendered.images]) {
        const file = await readSiteFile(p);
        if (!file) {
          warn(`${article.slug}: image ${p} is not in output/ or export/; left out`);
          continue;
        }
        if (!neededFiles.has(file.hash)) {
          const alt = featured.includes(p) ? (article.image?.alt ?? "") : _altOf(article, p);
          neededFiles.set(file.hash, { ...file, alt, caption: featured.includes(p) ? alt : "" });
        }
      }
    }
    const lookups: string[] = [];
    for (const hash of neededFiles.keys()) {
      const record = media.get(hash);
      if (record && !options.force) mediaFor.set(hash, { id: Number(record.remoteId), url: String(record.info.url) });
      else lookups.push(hash);
    }
    for (const chunk of _chunks(lookups, 50)) {
      const found = await client.rest<{ id: number; slug: string; source_url: string }[]>(
        "GET",
        `/wp/v2/media?slug=${chunk.map(_mediaSlug).join(",")}&per_page=100&_fields=id,slug,source_url`,
      );
      for (const m of found) {
        const hash = chunk.find((h) => _mediaSlug(h) === m.slug);
        if (hash) mediaFor.set(hash, { id: m.id, url: m.source_url });
      }
    }
    const limit = pLimit(cfg.concurrency);
    const uploadOne = async (hash: string) => {
      const file = neededFiles.get(hash)!;
      if (mediaFor.has(hash)) report.media.reused++;
      else {
        const m = await _upload(client, hash, file);
        mediaFor.set(hash, { id: m.id, url: m.source_url });
        report.media.uploaded++;
        audit("wordpress.upload", `${url} media ${m.id} ${basename(file.path)}`);
      }
      const got = mediaFor.get(hash)!;
      await store.savePublished({
        target,
        kind: "media",
        key: hash,
        remoteId: String(got.id),
        hash,
        info: { url: got.url, path: file.path },
      });
    };
    // the first upload alone: it creates the month's upload folder, which concurrent uploads would race to create
    const [firstUpload, ...otherUploads] = lookups;
    if (firstUpload !== undefined) await uploadOne(firstUpload);
    await Promise.all(otherUploads.map((hash) => limit(() => uploadOne(hash))));
    report.media.reused += neededFiles.size - lookups.length;
    const mediaUrl = (p: string) => {
      const f = files.get(p);
      return f ? mediaFor.get(f.hash)?.url : undefined;
    };

    // --- new posts: reserved as drafts carrying the marker in one request, recorded at once
    await Promise.all(
      toSend
        .filter((a) => !ids.has(a.article.id))
        .map(({ article }) =>
          limit(async () => {
            try {
              const id = await client.xmlrpc("wp.newPost", [
                {
                  post_type: "post",
                  post_status: "draft",
                  post_title: escapeHtml(article.title),
                  post_name: article.slug,
                  custom_fields: [{ key: MARKER_FIELD, value: `${site.name}:${article.id}` }],
                },
              ]);
              ids.set(article.id, String(id));
              await _saveRecord(store, target, article, String(id), "", {});
            } catch (error) {
              fail(article, error);
            }
          }),
        ),
    );
    // permalinks of posts without one recorded yet (drafts have none; publish/future posts get their pretty one)
    const unknownIds = [...ids.entries()].filter(([articleId]) => {
      const a = ready.find((x) => x.id === articleId);
      return a && !links.has(a.slug) && !known.has(ids.get(articleId)!);
    });
    for (const chunk of _chunks(unknownIds, 100)) {
      const found = await client.rest<WpPost[]>(
        "GET",
        `/wp/v2/posts?include=${chunk.map(([, id]) => id).join(",")}&status=${statuses}&context=edit&per_page=100&_fields=${POST_FIELDS}`,
      );
      for (const post of found) known.set(String(post.id), post);
    }
    for (const [articleId, id] of ids) {
      const a = ready.find((x) => x.id === articleId);
      const post = known.get(id);
      if (a && post && !links.has(a.slug)) links.set(a.slug, _predictLink(post, a.slug, _statusFor(a, cfg.status)));
    }

    // --- send the posts
    const byId = new Map(hashed.map((h) => [h.article.id, h]));
    const send = async (article: Article, kind: "create" | "update") => {
      const id = ids.get(article.id);
      if (!id || failed.has(article.id)) return;
      try {
        const hash = await inputsHash(article);
        const rendered = renderPost(article, context(mediaUrl));
        for (const r of rendered.removed) warn(`${article.slug}: removed ${r}`);
        const featured = _featuredPath(article, siteInfo.host)[0];
        const featuredFile = featured === undefined ? undefined : files.get(featured);
        const status = _statusFor(article, cfg.status);
        const canonical = siteInfo.baseUrl
          ? new URL(`./${siteInfo.blogPath}/${article.slug}/`, siteInfo.baseUrl).href
          : "";
        const body: Record<string, unknown> = {
          title: escapeHtml(article.title),
          content: rendered.content,
          excerpt: escapeHtml(seo === "none" ? article.metaDescription : article.excerpt),
          slug: article.slug,
          status,
          date_gmt: new Date(article.publishedAt).toISOString().slice(0, 19),
          categories: article.category ? [termId.get(`category:${taxonomySlug(article.category)}`)] : [],
          tags: article.tags.map((t) => termId.get(`tag:${taxonomySlug(t)}`)),
          featured_media: featuredFile ? (mediaFor.get(featuredFile.hash)?.id ?? 0) : 0,
          ...(cfg.author ? { author: cfg.author } : {}),
          ...(seo === "yoast"
            ? { meta: { _yoast_wpseo_metadesc: article.metaDescription, _yoast_wpseo_canonical: canonical } }
            : seo === "rankmath"
              ? { meta: { rank_math_description: article.metaDescription, rank_math_canonical_url: canonical } }
              : {}),
        };
        const post = await client.rest<WpPost>("POST", `/wp/v2/posts/${id}?context=edit&_fields=${POST_FIELDS}`, {
          body,
          idempotent: true,
        });
        const link = _predictLink(post, post.slug, status);
        links.set(article.slug, link);
        await _saveRecord(store, target, article, id, hash, { link, status: post.status });
        const entry = byId.get(article.id);
        if (entry) entry.hash = hash;
        if (kind === "create" && !report.adopted.includes(article.slug)) report.created.push(article.slug);
        else if (!report.updated.includes(article.slug) && !report.created.includes(article.slug)) {
          report.updated.push(article.slug);
        }
        audit("wordpress.publish", `${url} post ${id} ${article.slug} (${status})`);
      } catch (error) {
        fail(article, error);
      }
      options.onEvent?.({ type: "progress", done: ++done, total: toSend.length, slug: article.slug });
    };
    let done = 0;
    await Promise.all(toSend.map((a) => limit(() => send(a.article, a.kind))));
    // second pass: posts whose links (or linked permalinks) changed once every post existed
    const sent = new Set(toSend.map((a) => a.article.id));
    const again: Article[] = [];
    const latest = new Map((await store.listPublished(target, "post")).map((r) => [r.key, r]));
    for (const article of ready) {
      const record = latest.get(article.id);
      if (!record || failed.has(article.id) || record.hash === "") continue;
      if ((await inputsHash(article)) !== record.hash) again.push(article);
    }
    await Promise.all(
      again.map((article) =>
        limit(async () => {
          if (!sent.has(article.id)) {
            const record = records.get(article.id);
            if (record) ids.set(article.id, record.remoteId);
          }
          await send(article, "update");
          report.unchanged = report.unchanged.filter((s) => s !== article.slug);
        }),
      ),
    );

    // --- articles gone: their posts unpublished or trashed, as configured
    for (const a of work) {
      if (a.kind !== "remove") continue;
      const slug = String(a.record.info.slug ?? a.record.key);
      try {
        if (a.to === "trash") await client.rest("DELETE", `/wp/v2/posts/${a.record.remoteId}?_fields=id`);
        else
          await client.rest("POST", `/wp/v2/posts/${a.record.remoteId}?_fields=id`, {
            body: { status: "draft" },
            idempotent: true,
          });
        await store.savePublished({ ...a.record, info: { ...a.record.info, removed: a.to } });
        report.removed.push({ slug, postId: a.record.remoteId, to: a.to });
        audit(`wordpress.${a.to === "trash" ? "trash" : "unpublish"}`, `${url} post ${a.record.remoteId} ${slug}`);
      } catch (error) {
        if (isSiteloomError(error) && (error.code === "ERR_PUBLISH_AUTH" || error.code === "ERR_INTERRUPTED"))
          throw error;
        report.failed.push({ slug, message: (error as Error).message });
      }
    }
  } finally {
    Object.assign(report, client.stats);
    await client.close();
  }
  return report;
}

// --- internal ---

/** Fields asked for when reading posts (small answers). */
const POST_FIELDS = "id,slug,status,link,permalink_template,generated_slug";

interface WpPost {
  id: number;
  slug: string;
  status: string;
  link: string;
  permalink_template?: string;
  generated_slug?: string;
}

function _statusFor(article: Article, configured: "draft" | "publish" | "future"): string {
  if (configured === "draft") return "draft";
  return Date.parse(article.publishedAt) > Date.now() ? "future" : "publish";
}

/** The permalink a post has (publish) or will have (future); drafts only have their `?p=` link. */
function _predictLink(post: WpPost, slug: string, status: string): string {
  if ((status === "publish" || status === "future") && post.permalink_template) {
    return post.permalink_template.replace(/%(?:postname|pagename)%/, slug);
  }
  return post.link;
}

async function _saveRecord(
  store: StateStore,
  target: string,
  article: Article,
  id: string,
  hash: string,
  info: Record<string, unknown>,
): Promise<void> {
  await store.savePublished({
    target,
    kind: "post",
    key: article.id,
    remoteId: id,
    hash,
    info: { slug: article.slug, ...info },
  });
}

async function _createTerm(client: WordpressClient, endpoint: string, name: string, slug: string): Promise<number> {
  try {
    const created = await client.rest<{ id: number }>("POST", `/wp/v2/${endpoint}?_fields=id`, {
      body: { name, slug },
    });
    return created.id;
  } catch (error) {
    // created meanwhile (another run, or a name that differs only in case): WordPress names the existing term
    const cause = (error as SiteloomError).cause as { code?: string; data?: { term_id?: number } } | undefined;
    if (cause?.code === "term_exists" && typeof cause.data?.term_id === "number") return cause.data.term_id;
    throw error;
  }
}

/**
 * Uploads a file as a media item named by its hash. WordPress can fail an upload with HTTP 500 when two requests
 * create the month's upload folder at once: then it is looked up by its slug and, when absent, sent once more.
 */
async function _upload(
  client: WordpressClient,
  hash: string,
  file: { path: string; data: Buffer; alt: string; caption: string },
): Promise<{ id: number; source_url: string }> {
  const query = new URLSearchParams({ slug: _mediaSlug(hash), alt_text: file.alt, caption: file.caption });
  const send = () =>
    client.rest<{ id: number; source_url: string }>("POST", `/wp/v2/media?${query}&_fields=id,source_url`, {
      raw: { data: file.data, contentType: _mime(file.path), filename: basename(file.path) },
    });
  try {
    return await send();
  } catch (error) {
    if (!(isSiteloomError(error) && error.code === "ERR_PUBLISH_FAILED" && /HTTP 5\d\d/.test(error.message)))
      throw error;
    const [found] = await client.rest<{ id: number; source_url: string }[]>(
      "GET",
      `/wp/v2/media?slug=${_mediaSlug(hash)}&_fields=id,source_url`,
    );
    return found ?? (await send());
  }
}

function _chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function _mediaSlug(hash: string): string {
  return `siteloom-${hash.slice(0, 20)}`;
}

function _mime(path: string): string {
  const ext = extname(path).toLowerCase();
  return (
    {
      ".png": "image/png",
      ".jpg": "image/jpeg",
      ".jpeg": "image/jpeg",
      ".gif": "image/gif",
      ".webp": "image/webp",
      ".svg": "image/svg+xml",
    }[ext] ?? "application/octet-stream"
  );
}

/** The featured image as a site path, when it is on the site (absolute URLs of other hosts are not fetched). */
function _featuredPath(article: Article, host: string): string[] {
  const raw = article.image?.url.trim();
  if (!raw) return [];
  if (raw.startsWith("/") && !raw.startsWith("//")) return [raw.split(/[?#]/)[0]!];
  try {
    const u = new URL(raw);
    if ((u.protocol === "https:" || u.protocol === "http:") && u.host.toLowerCase() === host.toLowerCase())
      return [u.pathname];
  } catch {
    return [];
  }
  return [];
}

function _altOf(article: Article, sitePath: string): string {
  const m = new RegExp(`!\\[([^\\]]*)\\]\\(\\s*<?${sitePath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`).exec(
    article.bodyMarkdown,
  );
  return m?.[1] ?? "";
}

/** Reads a site file from output/ (what is deployed), else export/; never outside those folders. */
async function _readSiteFile(
  site: SiteContext,
  sitePath: string,
): Promise<{ path: string; data: Buffer; hash: string } | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(sitePath);
  } catch {
    return null;
  }
  const rel = normalize(decoded).replace(/^[/\\]+/, "");
  if (rel.startsWith("..") || rel.includes("\0")) return null;
  for (const dir of [site.paths.output, site.paths.export]) {
    try {
      const data = await readFile(join(dir, rel));
      return { path: sitePath, data, hash: sha256(data) };
    } catch {
      // not in this folder
    }
  }
  return null;
}

function _siteInfo(site: SiteContext): { baseUrl: string | undefined; host: string; blogPath: string } {
  const cfg = site.config;
  let base = cfg.url ?? (cfg.domain ? `https://${cfg.domain}/` : undefined);
  if (base && !base.endsWith("/")) base += "/";
  return {
    baseUrl: base,
    host: base ? new URL(base).host : "",
    blogPath: cfg.enrich.blogPath.replace(/^\/+|\/+$/g, ""),
  };
}
