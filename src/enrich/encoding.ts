import { isUtf8 } from "node:buffer";
import iconv from "iconv-lite";

/** How a page's bytes map to text, so edits can be spliced back into the original bytes. */
export interface PageEncoding {
  /** WHATWG-style label understood by iconv-lite ("utf-8", "windows-1252", "utf-16le", ...). */
  name: string;
  /** Length in bytes of the byte-order mark the file starts with (0 when none). */
  bomLength: number;
  /** Where the encoding came from. */
  source: "bom" | "meta" | "sniffed" | "default";
  /** The page declares UTF-8 but its bytes are not (read as windows-1252, as its bytes most likely are). */
  mislabelled?: boolean;
}

/** A page decoded for editing: its text (without BOM) and what is needed to write it back. */
export interface DecodedPage {
  text: string;
  encoding: PageEncoding;
  bytes: Buffer;
}

/** One text edit in character offsets of `DecodedPage.text`. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/**
 * Detects a page's encoding the way browsers do for local files: BOM first, then a meta charset in the first 1024
 * bytes, then "valid UTF-8 or else windows-1252" (old hand-made sites are often windows-1252 without a declaration).
 */
export function detectEncoding(bytes: Buffer): PageEncoding {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return { name: "utf-8", bomLength: 3, source: "bom" };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { name: "utf-16le", bomLength: 2, source: "bom" };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { name: "utf-16be", bomLength: 2, source: "bom" };
  const head = bytes.subarray(0, 1024).toString("latin1");
  const meta = _metaCharset(head);
  if (meta) return { name: meta, bomLength: 0, source: "meta" };
  return _isUtf8(bytes)
    ? { name: "utf-8", bomLength: 0, source: "default" }
    : { name: "windows-1252", bomLength: 0, source: "sniffed" };
}

export function decodePage(bytes: Buffer): DecodedPage {
  let encoding = detectEncoding(bytes);
  if (encoding.name === "utf-8" && encoding.source === "meta" && !_isUtf8(bytes)) {
    // Declared UTF-8, written in a single-byte encoding: read byte for byte, so edits keep every other byte.
    encoding = { name: "windows-1252", bomLength: 0, source: "sniffed", mislabelled: true };
  }
  const body = bytes.subarray(encoding.bomLength);
  const text = encoding.name === "utf-8" ? body.toString("utf8") : iconv.decode(body, encoding.name);
  return { text, encoding, bytes };
}

/** Encodes text for the page's encoding; characters it cannot hold become numeric character references. */
export function encodeText(text: string, encoding: PageEncoding): Buffer {
  if (_isUnicode(encoding.name)) return _encodeRaw(text, encoding.name);
  return _encodeRaw(escapeNonAscii(text), encoding.name);
}

/** Replaces every non-ASCII character by `&#xHEX;` (valid in HTML text and attribute values of any page). */
export function escapeNonAscii(text: string): string {
  return text.replace(/[^\u0000-\u007f]/gu, (ch) => `&#x${ch.codePointAt(0)!.toString(16)};`);
}

/**
 * The page as a new UTF-8 page: its text (decoded from whatever it was written in) with the charset declaration
 * changed to utf-8, or one added at the top of <head>. New pages are always UTF-8, as the HTML standard requires.
 */
export function toUtf8Page(page: DecodedPage): DecodedPage {
  if (page.encoding.name === "utf-8" && page.encoding.bomLength === 0 && !page.encoding.mislabelled) return page;
  let declared = false;
  const head = page.text.slice(0, 4096).replace(/<meta\b[^>]*>/gi, (tag) => {
    if (/\bcharset\s*=/i.test(tag) && !/http-equiv/i.test(tag)) {
      declared = true;
      return '<meta charset="utf-8">';
    }
    if (/http-equiv\s*=\s*["']?content-type/i.test(tag)) {
      declared = true;
      return tag.replace(/(charset\s*=\s*)[\w.:-]+/i, "$1utf-8");
    }
    return tag;
  });
  let text = head + page.text.slice(4096);
  if (!declared) {
    const open = /<head\b[^>]*>/i.exec(text) ?? /<html\b[^>]*>/i.exec(text);
    const at = open ? open.index + open[0].length : 0;
    text = `${text.slice(0, at)}<meta charset="utf-8">${text.slice(at)}`;
  }
  return { text, bytes: Buffer.from(text, "utf8"), encoding: { name: "utf-8", bomLength: 0, source: "meta" } };
}

/** Whether edits to this page can keep every byte outside them (else it must be left as it is). */
export function canSpliceBytes(page: DecodedPage): boolean {
  return _offsetMapper(page) !== undefined;
}

/**
 * Applies edits to the page's original bytes: bytes outside the edited ranges are copied as they are, so a page
 * changes only where something was inserted or replaced, whatever odd bytes it holds elsewhere. A page whose bytes
 * cannot be mapped to its text (invalid sequences in a multi-byte encoding) is refused, never re-encoded whole.
 */
export function spliceBytes(page: DecodedPage, edits: TextEdit[]): Buffer {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  const toByte = _offsetMapper(page);
  if (!toByte) {
    throw new Error(`its ${page.encoding.name} bytes do not round-trip, so it cannot be edited byte for byte`);
  }
  const parts: Buffer[] = [];
  let cursor = 0;
  for (const edit of sorted) {
    const start = toByte(edit.start);
    const end = toByte(edit.end);
    if (start < cursor) throw new Error(`overlapping edits at offset ${edit.start}`);
    parts.push(page.bytes.subarray(cursor, start), encodeText(edit.text, page.encoding));
    cursor = end;
  }
  parts.push(page.bytes.subarray(cursor));
  return Buffer.concat(parts);
}

/** Applies edits to a string (character offsets). */
export function spliceText(text: string, edits: TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = "";
  let cursor = 0;
  for (const edit of sorted) {
    if (edit.start < cursor) throw new Error(`overlapping edits at offset ${edit.start}`);
    out += text.slice(cursor, edit.start) + edit.text;
    cursor = edit.end;
  }
  return out + text.slice(cursor);
}

// --- internal ---

const UNICODE = new Set(["utf-8", "utf8", "utf-16le", "utf-16be", "utf-16"]);
const SINGLE_BYTE = /^(windows-125\d|iso-8859-\d+|latin1|koi8-[ru]|macintosh|cp\d+)$/;

function _isUnicode(name: string): boolean {
  return UNICODE.has(name);
}

function _encodeRaw(text: string, name: string): Buffer {
  return name === "utf-8" ? Buffer.from(text, "utf8") : iconv.encode(text, name);
}

function _metaCharset(head: string): string | undefined {
  const re = /<meta\b[^>]*>/gi;
  for (const match of head.matchAll(re)) {
    const tag = match[0];
    const direct = /\bcharset\s*=\s*["']?\s*([\w.:-]+)/i.exec(tag);
    if (direct?.[1]) return _normaliseLabel(direct[1]);
  }
  return undefined;
}

function _normaliseLabel(label: string): string | undefined {
  const l = label.toLowerCase();
  // WHATWG: these labels all mean windows-1252; utf-16 in a meta means utf-8 (the meta was readable as ASCII).
  if (["iso-8859-1", "latin1", "us-ascii", "ascii", "l1", "cp1252", "iso8859-1", "iso_8859-1"].includes(l)) {
    return "windows-1252";
  }
  if (l === "utf8" || l.startsWith("utf-16")) return "utf-8";
  return iconv.encodingExists(l) ? l : undefined;
}

function _isUtf8(bytes: Buffer): boolean {
  // node:buffer's check validates without decoding into a string (a fatal TextDecoder built one per call).
  return isUtf8(bytes);
}

/** Maps character offsets of the decoded text to byte offsets of the file, or undefined when that is unsafe. */
function _offsetMapper(page: DecodedPage): ((offset: number) => number) | undefined {
  const { name, bomLength } = page.encoding;
  const bodyLength = page.bytes.length - bomLength;
  if (SINGLE_BYTE.test(name)) return page.text.length === bodyLength ? (o) => bomLength + o : undefined;
  if (name === "utf-16le" || name === "utf-16be") {
    return page.text.length * 2 === bodyLength ? (o) => bomLength + 2 * o : undefined;
  }
  if (name !== "utf-8") {
    // Multi-byte encodings (Shift_JIS, EUC-JP, GB18030, Big5): when the text encodes back to exactly the page's bytes,
    // a character offset's byte offset is the encoded length of the text before it (these encodings are stateless).
    const body = page.bytes.subarray(bomLength);
    if (!iconv.encodingExists(name) || !iconv.encode(page.text, name).equals(body)) return undefined;
    return (o) => bomLength + iconv.encode(page.text.slice(0, o), name).length;
  }
  if (!_isUtf8(page.bytes.subarray(bomLength))) return undefined;
  // Incremental: edits are asked for in ascending order, so walk forward from the last answer.
  let lastChar = 0;
  let lastByte = 0;
  return (offset) => {
    if (offset < lastChar) {
      lastChar = 0;
      lastByte = 0;
    }
    lastByte += Buffer.byteLength(page.text.slice(lastChar, offset), "utf8");
    lastChar = offset;
    return bomLength + lastByte;
  };
}
