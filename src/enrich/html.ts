import { type DefaultTreeAdapterTypes, parse } from "parse5";
import { SiteloomError } from "../errors.ts";

export type HtmlElement = DefaultTreeAdapterTypes.Element;
export type HtmlNode = DefaultTreeAdapterTypes.ChildNode;
export type HtmlDocument = DefaultTreeAdapterTypes.Document;

/** A compound CSS selector of the simple kind configs use: `main`, `#content`, `div.content`, `nav ul`. */
export interface SimpleSelector {
  parts: { tag?: string; id?: string; classes: string[] }[];
}

/** Parses a page with source locations, the way a browser would build it. */
export function parseHtml(text: string): HtmlDocument {
  return parse(text, { sourceCodeLocationInfo: true });
}

/** Parses `main`, `#id`, `.a.b`, `tag#id.cls` and descendant chains of those (`nav ul`). */
export function parseSelector(selector: string): SimpleSelector {
  const parts = selector
    .trim()
    .split(/\s+/)
    .map((token) => {
      const m = /^([a-z][a-z0-9-]*)?((?:[#.][\w-]+)*)$/i.exec(token);
      if (!m || token === "") {
        throw new SiteloomError(
          "ERR_CONFIG_INVALID",
          `enrich: selector "${selector}" is not supported; use a tag, #id, .class or a descendant chain of those (e.g. "main", "#content", "nav ul")`,
        );
      }
      const part: { tag?: string; id?: string; classes: string[] } = { classes: [] };
      if (m[1]) part.tag = m[1].toLowerCase();
      for (const piece of (m[2] ?? "").match(/[#.][\w-]+/g) ?? []) {
        if (piece.startsWith("#")) part.id = piece.slice(1);
        else part.classes.push(piece.slice(1));
      }
      return part;
    });
  return { parts };
}

/** All elements in document order. */
export function* walkElements(
  node: { childNodes?: HtmlNode[] },
  ancestors: HtmlElement[] = [],
): Generator<[HtmlElement, HtmlElement[]]> {
  for (const child of node.childNodes ?? []) {
    if (!("tagName" in child)) continue;
    yield [child, ancestors];
    const inner =
      child.tagName === "template" ? (child as unknown as { content: { childNodes: HtmlNode[] } }).content : child;
    yield* walkElements(inner, [...ancestors, child]);
  }
}

/** The first element matching the selector, in document order. */
export function querySelector(
  doc: HtmlDocument | HtmlElement,
  selector: SimpleSelector | string,
): HtmlElement | undefined {
  const sel = typeof selector === "string" ? parseSelector(selector) : selector;
  for (const [el, ancestors] of walkElements(doc)) {
    if (_matchesChain(el, ancestors, sel)) return el;
  }
  return undefined;
}

export function querySelectorAll(doc: HtmlDocument | HtmlElement, selector: SimpleSelector | string): HtmlElement[] {
  const sel = typeof selector === "string" ? parseSelector(selector) : selector;
  const out: HtmlElement[] = [];
  for (const [el, ancestors] of walkElements(doc)) if (_matchesChain(el, ancestors, sel)) out.push(el);
  return out;
}

export function getAttr(el: HtmlElement, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

/** Character offsets of an element's inner content (between its tags), when both tags are in the source. */
export function innerRange(el: HtmlElement): { start: number; end: number } | undefined {
  const loc = el.sourceCodeLocation;
  if (!loc?.startTag || !loc.endTag) return undefined;
  return { start: loc.startTag.endOffset, end: loc.endTag.startOffset };
}

/** Character offsets of the whole element (start tag to end tag, or the start tag alone when void/unclosed). */
export function outerRange(el: HtmlElement): { start: number; end: number } | undefined {
  const loc = el.sourceCodeLocation;
  if (!loc) return undefined;
  return { start: loc.startOffset, end: loc.endOffset };
}

/** Where to insert at the end of an element: before its end tag, else after its last located descendant. */
export function endInsertionPoint(el: HtmlElement): number | undefined {
  const loc = el.sourceCodeLocation;
  if (loc?.endTag) return loc.endTag.startOffset;
  let last: number | undefined = loc?.startTag?.endOffset;
  for (const child of el.childNodes) {
    const end = (child as { sourceCodeLocation?: { endOffset: number } | null }).sourceCodeLocation?.endOffset;
    if (end !== undefined) last = Math.max(last ?? 0, end);
  }
  return last;
}

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);
}

/** Visible text of an element (for reports and link detection). */
export function textContent(el: HtmlElement): string {
  let out = "";
  for (const child of el.childNodes) {
    if (child.nodeName === "#text") out += (child as DefaultTreeAdapterTypes.TextNode).value;
    else if ("tagName" in child) out += textContent(child);
  }
  return out;
}

// --- internal ---

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function _matches(el: HtmlElement, part: SimpleSelector["parts"][number]): boolean {
  if (part.tag && el.tagName !== part.tag) return false;
  if (part.id !== undefined && getAttr(el, "id") !== part.id) return false;
  if (part.classes.length > 0) {
    const classes = (getAttr(el, "class") ?? "").split(/\s+/);
    if (!part.classes.every((c) => classes.includes(c))) return false;
  }
  return true;
}

function _matchesChain(el: HtmlElement, ancestors: HtmlElement[], sel: SimpleSelector): boolean {
  const parts = sel.parts;
  if (!_matches(el, parts[parts.length - 1]!)) return false;
  let i = parts.length - 2;
  for (let a = ancestors.length - 1; a >= 0 && i >= 0; a--) if (_matches(ancestors[a]!, parts[i]!)) i--;
  return i < 0;
}
