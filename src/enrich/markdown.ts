import { Marked } from "marked";
import sanitizeHtml from "sanitize-html";
import { IMAGE_SCHEMES, LINK_SCHEMES, safeUrl } from "./urls.ts";

/** Options of `renderMarkdown`. */
export interface RenderMarkdownOptions {
  /** Host of the site ("www.example.com"): links elsewhere are external and get rel="noopener noreferrer". */
  siteHost: string;
  /** Lowest heading level the body may use (the page's h1 is the title). @default 2 */
  minHeading?: number;
  /** The article title: a leading `# Title` heading repeating it is dropped (the page already shows it as h1). */
  title?: string;
}

/** Result of rendering an article body. */
export interface RenderedBody {
  /** Sanitised HTML; site links are root-relative ("/about.html") until `localizeUrls` places them. */
  html: string;
  /** What the sanitiser removed, for the report (e.g. "image without alt text"). */
  removed: string[];
}

/**
 * Markdown → HTML → allowlist sanitising: no script/style/iframe, no event handlers, only http(s)/mailto/tel URLs,
 * images only with alt text, headings shifted so the body starts at h2 (the title is the page's only h1).
 */
export function renderMarkdown(markdown: string, options: RenderMarkdownOptions): RenderedBody {
  const raw = MARKED.parse(options.title ? _dropTitleHeading(markdown, options.title) : markdown, {
    async: false,
  }) as string;
  const minHeading = options.minHeading ?? 2;
  const levels = [...raw.matchAll(/<h([1-6])\b/gi)].map((m) => Number(m[1]));
  const shift = levels.length > 0 ? Math.max(0, minHeading - Math.min(...levels)) : 0;
  const removed: string[] = [];
  const html = sanitizeHtml(raw, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: {
      a: ["href", "title", "rel", "hreflang"],
      img: ["src", "alt", "title", "width", "height", "loading"],
      code: ["class"],
      th: ["scope", "colspan", "rowspan", "align"],
      td: ["colspan", "rowspan", "align"],
      ol: ["start", "reversed"],
      time: ["datetime"],
      abbr: ["title"],
    },
    allowedClasses: { code: [/^language-[\w-]+$/] },
    allowedSchemes: ["http", "https", "mailto", "tel"],
    allowedSchemesAppliedToAttributes: ["href", "src", "cite"],
    allowProtocolRelative: false,
    disallowedTagsMode: "discard",
    nonTextTags: ["script", "style", "textarea", "option", "noscript", "iframe", "object", "embed"],
    transformTags: {
      ...Object.fromEntries(
        [1, 2, 3, 4, 5, 6].map((level) => [
          `h${level}`,
          (_tag: string, attribs: sanitizeHtml.Attributes) => ({
            tagName: `h${Math.min(6, level + shift)}`,
            attribs,
          }),
        ]),
      ),
      a: (_tag, attribs) => {
        const next: sanitizeHtml.Attributes = { ...attribs };
        if (attribs.href === undefined) return { tagName: "a", attribs: next };
        const href = safeUrl(attribs.href, LINK_SCHEMES);
        if (href === undefined) {
          // An unsafe link (any spelling of javascript:, data:, a control character) keeps only its text.
          removed.push("link with an unsafe URL");
          return { tagName: UNSAFE_TAG, attribs: {} };
        }
        next.href = _siteRooted(href);
        if (_isExternal(href, options.siteHost)) next.rel = "noopener noreferrer";
        else delete next.rel;
        return { tagName: "a", attribs: next };
      },
      img: (_tag, attribs) => {
        const next: sanitizeHtml.Attributes = { ...attribs, loading: "lazy" };
        if (next.src !== undefined) {
          const src = safeUrl(next.src, IMAGE_SCHEMES);
          if (src === undefined) removed.push("image with an unsafe URL");
          if (src) next.src = _siteRooted(src);
          else delete next.src;
        }
        return { tagName: "img", attribs: next };
      },
    },
    exclusiveFilter: (frame) => {
      if (frame.tag === "img" && !(frame.attribs.alt ?? "").trim()) {
        removed.push(`image without alt text (${frame.attribs.src ?? "no src"})`);
        return true;
      }
      if (frame.tag === "img" && !frame.attribs.src) return true;
      return false;
    },
  });
  // XHTML-style "/>" is discouraged in HTML documents; text never contains a raw "/>" after sanitising.
  return { html: html.replace(/\s*\/>/g, ">").trim(), removed };
}

/** Rewrites root-relative `href`/`src` values of sanitised HTML with `map` (to relative or absolute URLs). */
export function localizeUrls(html: string, map: (rootPath: string) => string): string {
  return html.replace(/\b(href|src)="(\/(?!\/)[^"]*)"/g, (_m, attr: string, url: string) => `${attr}="${map(url)}"`);
}

// --- internal ---

const MARKED = new Marked({ gfm: true, breaks: false });

/**
 * What an unsafe link becomes: a plain span around its text. (Renaming it to a disallowed tag would drop it, but
 * sanitize-html 2.17 then forgets to clear its rename and closes the next link at that depth with the wrong tag.)
 */
const UNSAFE_TAG = "span";

const ALLOWED_TAGS = [
  "p",
  "br",
  "hr",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "ul",
  "ol",
  "li",
  "a",
  "em",
  "strong",
  "b",
  "i",
  "code",
  "pre",
  "blockquote",
  "img",
  "table",
  "thead",
  "tbody",
  "tfoot",
  "tr",
  "th",
  "td",
  "caption",
  "del",
  "ins",
  "sup",
  "sub",
  "figure",
  "figcaption",
  "dl",
  "dt",
  "dd",
  "abbr",
  "time",
  "mark",
  "small",
  "kbd",
  "s",
  UNSAFE_TAG,
];

function _dropTitleHeading(markdown: string, title: string): string {
  const m = /^\s*#\s+(.+?)\s*#*\s*(?:\r?\n|$)/.exec(markdown);
  const norm = (t: string) =>
    t
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .trim();
  return m && norm(m[1]!) === norm(title) ? markdown.slice(m[0].length) : markdown;
}

function _isExternal(href: string, siteHost: string): boolean {
  if (!/^https?:\/\//i.test(href)) return false;
  try {
    return new URL(href).host.toLowerCase() !== siteHost.toLowerCase();
  } catch {
    return true;
  }
}

/** Document-relative links in an article mean site paths (the article does not know where its page will live). */
function _siteRooted(url: string): string {
  if (url === "" || url.startsWith("#") || url.startsWith("/") || /^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
  return `/${url.replace(/^\.\//, "")}`;
}
