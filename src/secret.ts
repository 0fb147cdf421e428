import { inspect } from "node:util";

/** What every printed form of a secret shows. */
export const MASK = "****";

const REGISTERED = new Set<string>();
/** Values shorter than this are not masked inside other text: masking "a" everywhere would ruin every log line. */
const MIN_MASKED_LENGTH = 4;
let pattern: RegExp | undefined;

/**
 * A credential value. Every accidental way of printing it (String(), template literals, JSON.stringify,
 * util.inspect / console.log) gives `****`; the plain value is reached only through `reveal()`.
 * Creating one registers the value (and its URL-encoded and base64 forms) with the process-wide redaction used by
 * the logger and the CLI's error printer.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    registerSecretValue(value);
  }

  /** The plain value. Call it only where the value is handed to the component that needs it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [Symbol.toPrimitive](): string {
    return MASK;
  }

  [inspect.custom](): string {
    return `Secret(${MASK})`;
  }
}

export function isSecret(value: unknown): value is Secret {
  return value instanceof Secret;
}

/** Registers a value so that `redact()` masks it anywhere, in its plain, URL-encoded and base64 forms. */
export function registerSecretValue(value: string): void {
  if (value.length < MIN_MASKED_LENGTH) return;
  const forms = [value, encodeURIComponent(value), Buffer.from(value).toString("base64")];
  let added = false;
  for (const form of forms) {
    if (!REGISTERED.has(form)) {
      REGISTERED.add(form);
      added = true;
    }
  }
  if (added) pattern = undefined;
}

/** Masks every registered secret value and every `user:password@` part of URLs in `text`. */
export function redact(text: string): string {
  let out = stripUrlCredentials(text);
  if (REGISTERED.size === 0) return out;
  const forms = [...REGISTERED].sort((a, b) => b.length - a.length);
  try {
    pattern ??= new RegExp(forms.map(_escapeRegExp).join("|"), "g");
    // V8 compiles the expression on first use, so "too large" is thrown here, not by the constructor
    return out.replace(pattern, MASK);
  } catch {
    pattern = undefined;
    // values too large for one expression (V8 limits its size): mask them one by one; the error that said so
    // quoted the expression, values included, so it must never surface
    for (const form of forms) out = out.split(form).join(MASK);
    return out;
  }
}

/** Removes credentials from URLs inside text: `ftp://user:pw@host/` → `ftp://user:****@host/`. */
export function stripUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]+):([^\s/@]+)@/gi, `$1$2:${MASK}@`);
}

/**
 * A connection URL fit for messages and `location`s: the password masked (`postgres://user:****@host/db`), also
 * one given as a `password=` query parameter (libpq takes it there too).
 */
export function redactUrl(url: string): string {
  return stripUrlCredentials(url).replace(/([?&]password=)[^&#]*/gi, `$1${MASK}`);
}

// --- internal ---

function _escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
