/**
 * Characters that make a terminal act instead of show: C0 controls (ESC, BEL, backspace…), DEL, C1 controls (the
 * one-byte CSI and OSC), and the Unicode direction overrides that reorder what is shown around them.
 */
const _UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export interface PrintableOptions {
  /**
   * Line breaks: "space" joins the lines of a multi-line reply, "keep" keeps them (protocol traces), "escape" shows
   * them as `\x0a` like any other control character (names and paths). @default "space"
   */
  newlines?: "space" | "keep" | "escape";
}

/**
 * Text that came from outside (a server's reply or listing, an API body) made inert before it is shown: every control
 * character is written as `\xNN` (`\u{NNNN}` above U+00FF), so `ESC[2J`, an OSC title sequence or BEL is seen and not
 * obeyed. Idempotent.
 */
export function printable(text: string, options: PrintableOptions = {}): string {
  const newlines = options.newlines ?? "space";
  let flat = text;
  if (newlines === "space") flat = text.replace(/[ \t]*(?:\r\n|\r|\n)[ \t]*/g, " ");
  else if (newlines === "keep") flat = text.replace(/\r\n/g, "\n");
  return flat.replace(_UNPRINTABLE, (c) => {
    if (c === "\n" && newlines === "keep") return c;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}
