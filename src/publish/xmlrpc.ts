/**
 * The little of XML-RPC that publishing needs: WordPress's REST API cannot write or read post meta that no plugin
 * registered, but its XML-RPC API (`wp.newPost`, `wp.getPost`) reads and writes custom fields on a stock install.
 * Values are strings, integers, booleans, arrays and structs; everything received is parsed as data only.
 */

/** An XML-RPC value as JavaScript. */
export type XmlRpcValue = string | number | boolean | XmlRpcValue[] | { [key: string]: XmlRpcValue };

/** A `<fault>` answer. */
export interface XmlRpcFault {
  faultCode: number;
  faultString: string;
}

/** Serialises a method call. */
export function encodeCall(method: string, params: XmlRpcValue[]): string {
  return `<?xml version="1.0"?><methodCall><methodName>${_escape(method)}</methodName><params>${params
    .map((p) => `<param>${_value(p)}</param>`)
    .join("")}</params></methodCall>`;
}

/** Parses a method response: the value, or the fault. Throws on anything that is not an XML-RPC response. */
export function decodeResponse(xml: string): { value: XmlRpcValue } | { fault: XmlRpcFault } {
  const tokens = [...xml.matchAll(/<(\/?)([A-Za-z0-9_.]+)[^>]*?(\/?)>|([^<]+)/g)];
  let i = 0;
  const skipText = () => {
    while (i < tokens.length && tokens[i]![4] !== undefined) i++;
  };
  const open = (name: string) => {
    skipText();
    const t = tokens[i];
    if (!t || t[1] !== "" || t[2] !== name) throw new Error(`XML-RPC: expected <${name}>`);
    i++;
  };
  const close = (name: string) => {
    skipText();
    const t = tokens[i];
    if (!t || t[1] !== "/" || t[2] !== name) throw new Error(`XML-RPC: expected </${name}>`);
    i++;
  };
  const text = (): string => {
    let out = "";
    while (i < tokens.length && tokens[i]![4] !== undefined) out += tokens[i++]![4];
    return _unescape(out);
  };
  const value = (): XmlRpcValue => {
    open("value");
    const inner = text();
    const t = tokens[i];
    if (t && t[1] === "/" && t[2] === "value") {
      i++;
      return inner;
    }
    if (!t || t[1] !== "") throw new Error("XML-RPC: bad value");
    const type = t[2]!;
    i++;
    let result: XmlRpcValue;
    if (t[3] === "/") result = "";
    else if (type === "struct") {
      const struct: Record<string, XmlRpcValue> = Object.create(null);
      for (;;) {
        skipText();
        if (tokens[i]?.[1] === "/" && tokens[i]?.[2] === "struct") break;
        open("member");
        open("name");
        const key = text();
        close("name");
        struct[key] = value();
        close("member");
      }
      close("struct");
      result = struct;
    } else if (type === "array") {
      const items: XmlRpcValue[] = [];
      open("data");
      for (;;) {
        skipText();
        if (tokens[i]?.[1] === "/" && tokens[i]?.[2] === "data") break;
        items.push(value());
      }
      close("data");
      close("array");
      result = items;
    } else {
      const raw = text();
      close(type);
      result =
        type === "int" || type === "i4" || type === "i8" || type === "double"
          ? Number(raw)
          : type === "boolean"
            ? raw.trim() === "1"
            : raw;
    }
    close("value");
    return result;
  };
  while (i < tokens.length && !(tokens[i]![1] === "" && tokens[i]![2] === "methodResponse")) i++;
  open("methodResponse");
  skipText();
  if (tokens[i]?.[2] === "fault") {
    open("fault");
    const v = value() as Record<string, XmlRpcValue>;
    return { fault: { faultCode: Number(v.faultCode ?? 0), faultString: String(v.faultString ?? "") } };
  }
  open("params");
  open("param");
  return { value: value() };
}

// --- internal ---

function _value(v: XmlRpcValue): string {
  if (typeof v === "number")
    return Number.isInteger(v) ? `<value><int>${v}</int></value>` : `<value><double>${v}</double></value>`;
  if (typeof v === "boolean") return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (typeof v === "string") return `<value><string>${_escape(v)}</string></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(_value).join("")}</data></array></value>`;
  return `<value><struct>${Object.entries(v)
    .map(([k, x]) => `<member><name>${_escape(k)}</name>${_value(x)}</member>`)
    .join("")}</struct></value>`;
}

function _escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function _unescape(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_m, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith("#x")) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
    if (lower.startsWith("#")) return String.fromCodePoint(Number(lower.slice(1)));
    return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[lower] ?? "";
  });
}
