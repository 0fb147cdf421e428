import type { z } from "zod";

/** One configuration problem, printed as `file:line:col path: message`. */
export interface ConfigProblem {
  /** File relative to the workspace root, `$VARIABLE` for an environment variable, or `--set path` for a flag. */
  file: string;
  line?: number | undefined;
  col?: number | undefined;
  /** Dotted path as written in that source (e.g. `environments.production.deploy.parallel`); empty for syntax. */
  path: string;
  message: string;
}

/** `sites/shop/site.yaml:7:9 remote.port: expected a number, got "twenty-one"`. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.col ?? 1}`;
  return problem.path ? `${where} ${problem.path}: ${problem.message}` : `${where}: ${problem.message}`;
}

/** Sorts problems by file, then position, and drops exact duplicates (the same mistake seen from several envs). */
export function dedupeProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  for (const p of problems) {
    const key = formatProblem(p);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out.sort(
    (a, b) =>
      _fileRank(a.file) - _fileRank(b.file) ||
      a.file.localeCompare(b.file) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.col ?? 0) - (b.col ?? 0) ||
      a.path.localeCompare(b.path),
  );
}

/** Levenshtein distance (insert, delete, substitute), case-insensitive. */
export function levenshtein(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev = Array.from({ length: t.length + 1 }, (_, i) => i);
  for (let i = 1; i <= s.length; i++) {
    const cur = [i];
    for (let j = 1; j <= t.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[t.length]!;
}

/** The closest candidate to `word` when it is close enough to be a likely typo, else undefined. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = levenshtein(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (best !== undefined && bestDistance <= limit) return best;
  // an abbreviation ("prod" for "production") is a likely intent too
  const lower = word.toLowerCase();
  return lower.length >= 3 ? candidates.find((c) => c.toLowerCase().startsWith(lower)) : undefined;
}

/** Shows a configured value in a message: strings quoted, structures named. */
export function showValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (empty)";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

/**
 * Rewrites one zod issue into a sentence a user can act on. `value` is what was configured at the issue's path
 * (`present` false when the key is missing); `validKeys` are the keys allowed where an unknown key was found.
 */
export function describeIssue(issue: z.core.$ZodIssue, value: unknown, present: boolean): string {
  const got = `got ${showValue(value)}`;
  switch (issue.code) {
    case "invalid_type": {
      if (!present) return `is required (${_expected(issue.expected)})`;
      return `expected ${_expected(issue.expected)}, ${got}`;
    }
    case "too_small": {
      const min = String(issue.minimum);
      if (issue.origin === "string") {
        return issue.minimum === 1 ? "must not be empty" : `must be at least ${min} characters long, ${got}`;
      }
      if (issue.origin === "array" || issue.origin === "set") return `needs at least ${min} items`;
      return issue.inclusive === false ? `must be greater than ${min}, ${got}` : `must be at least ${min}, ${got}`;
    }
    case "too_big": {
      const max = String(issue.maximum);
      if (issue.origin === "string") return `must be at most ${max} characters long`;
      if (issue.origin === "array" || issue.origin === "set") return `takes at most ${max} items`;
      return issue.inclusive === false ? `must be less than ${max}, ${got}` : `must be at most ${max}, ${got}`;
    }
    case "invalid_value": {
      const values = issue.values.map((v) => String(v));
      const hint = typeof value === "string" ? didYouMean(value, values) : undefined;
      const base =
        values.length === 1 ? `expected ${values[0]}, ${got}` : `expected one of ${values.join(", ")}, ${got}`;
      return hint ? `${base}; did you mean "${hint}"?` : base;
    }
    case "invalid_format": {
      if (issue.format === "url") return `expected a URL such as https://example.com/, ${got}`;
      if (issue.format === "regex" && !issue.message.startsWith("Invalid")) return `${issue.message}, ${got}`;
      if (issue.format === "regex") return `does not match the expected form ${issue.pattern ?? ""}, ${got}`.trim();
      return `expected ${issue.format === "email" ? "an e-mail address" : `a valid ${issue.format}`}, ${got}`;
    }
    case "invalid_union": {
      const union = issue as z.core.$ZodIssueInvalidUnion & { options?: unknown[]; discriminator?: string };
      if (union.options && union.discriminator) {
        const values = union.options.map(String);
        if (!present) return `is required: one of ${values.join(", ")}`;
        const hint = typeof value === "string" ? didYouMean(value, values) : undefined;
        const base = `expected one of ${values.join(", ")}, ${got}`;
        return hint ? `${base}; did you mean "${hint}"?` : base;
      }
      return `does not match any allowed form, ${got}`;
    }
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}, ${got}`;
    default:
      return issue.message;
  }
}

// --- internal ---

const EXPECTED: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a mapping (key: value lines)",
  record: "a mapping (key: value lines)",
  bigint: "a whole number",
  date: "a date",
  null: "null",
};

function _expected(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

/** The workspace file first, then sites, then variables and flags. */
function _fileRank(file: string): number {
  if (file === "siteloom.yaml") return 0;
  if (file.startsWith("sites/")) return 1;
  if (file.startsWith("$")) return 2;
  return 3;
}
