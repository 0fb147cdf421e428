import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { CsvError, parse } from "csv-parse/sync";
import { SiteloomError } from "../errors.ts";
import { slugify } from "./slug.ts";

/** Columns topics.csv may have; `topic` is required. */
export const TOPIC_COLUMNS = [
  "topic",
  "keywords",
  "category",
  "tags",
  "audience",
  "tone",
  "language",
  "min_words",
  "max_words",
  "publish_at",
  "status",
  "slug",
] as const;

/** Longest article a row may ask for (min_words, max_words); anything above is a typo. */
export const MAX_WORDS = 20_000;
/** publish_at: a calendar date, optionally with a time and zone. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** One row of topics.csv, parsed and checked. */
export interface Topic {
  /** Stable id: hash of the row's values; an article with this id means the row is done. */
  id: string;
  /** 1-based line of the row in the file (where the record starts). */
  line: number;
  topic: string;
  /** Slug the article gets: the `slug` column, else derived from the topic. */
  slug: string;
  keywords: string[];
  category?: string;
  tags: string[];
  audience?: string;
  tone?: string;
  language?: string;
  minWords?: number;
  maxWords?: number;
  /** ISO 8601. */
  publishAt?: string;
  status?: "draft" | "ready";
}

export interface ParsedTopics {
  topics: Topic[];
  /** Non-fatal problems (unknown columns), one line each. */
  warnings: string[];
}

/** Reads and parses a topics file; a missing file is a readable error. */
export async function loadTopics(file: string): Promise<ParsedTopics> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new SiteloomError(
        "ERR_CSV_INVALID",
        `${file} does not exist; create it with a header row such as "topic,keywords,category"`,
      );
    }
    throw error;
  }
  return parseTopics(text, basename(file));
}

/**
 * Parses topics CSV text (header row required; quoted fields, embedded newlines, BOM and CRLF are handled by
 * csv-parse). Errors name the file, line and column.
 */
export function parseTopics(text: string, fileName = "topics.csv"): ParsedTopics {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: false,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    if (error instanceof CsvError) throw _csvError(error, fileName, text);
    throw error;
  }
  const [head, ...rows] = records;
  if (!head)
    throw new SiteloomError("ERR_CSV_INVALID", `${fileName} is empty; it needs a header row with a topic column`);
  const header = head.record.map((name) =>
    name
      .trim()
      .toLowerCase()
      .replace(/[\s-]+/g, "_"),
  );
  const warnings: string[] = [];
  const known = new Set<string>(TOPIC_COLUMNS);
  header.forEach((name, index) => {
    if (!known.has(name)) {
      warnings.push(
        `${fileName} line 1, column ${index + 1}: unknown column "${head.record[index]}" is ignored (known: ${TOPIC_COLUMNS.join(", ")})`,
      );
    }
  });
  if (!header.includes("topic")) {
    throw new SiteloomError(
      "ERR_CSV_INVALID",
      `${fileName} line 1: the header has no "topic" column (found: ${head.record.join(", ") || "nothing"})`,
    );
  }
  const topics: Topic[] = [];
  for (const { record, info } of rows) {
    // csv-parse reports the line where the record ends; a quoted field with newlines starts earlier
    const line = info.lines - _countNewlines(record);
    const cells: Record<string, string> = {};
    header.forEach((name, index) => {
      if (known.has(name)) cells[name] = record[index] ?? "";
    });
    const fail = (column: string, why: string): never => {
      throw new SiteloomError(
        "ERR_CSV_INVALID",
        `${fileName} line ${line}, column ${header.indexOf(column) + 1} (${column}): ${why}`,
      );
    };
    if (Object.values(cells).every((v) => v === "")) continue;
    const topicText = cells.topic ?? "";
    if (!topicText) fail("topic", "the topic is empty; every row needs one");
    const topic: Topic = {
      id: "",
      line,
      topic: topicText,
      slug: "",
      keywords: _list(cells.keywords),
      tags: _list(cells.tags),
    };
    for (const key of ["category", "audience", "tone", "language"] as const) {
      if (cells[key]) topic[key] = cells[key];
    }
    for (const [column, key] of [
      ["min_words", "minWords"],
      ["max_words", "maxWords"],
    ] as const) {
      const raw = cells[column];
      if (!raw) continue;
      if (!/^[1-9][0-9]*$/.test(raw)) fail(column, `expected a whole number of words, got "${raw}"`);
      if (Number(raw) > MAX_WORDS) fail(column, `${raw} words is not a sensible length; the most is ${MAX_WORDS}`);
      topic[key] = Number(raw);
    }
    if (topic.minWords !== undefined && topic.maxWords !== undefined && topic.minWords > topic.maxWords) {
      fail("max_words", `max_words ${topic.maxWords} is below min_words ${topic.minWords}`);
    }
    if (cells.publish_at) {
      // ISO 8601 only: Date() alone also takes "5" (year 2001) or "May" and guesses
      const when = ISO_DATE.test(cells.publish_at) ? new Date(cells.publish_at) : new Date(Number.NaN);
      if (Number.isNaN(when.getTime())) {
        fail(
          "publish_at",
          `"${cells.publish_at}" is not a date; use ISO 8601 such as 2026-05-01 or 2026-05-01T09:00:00Z`,
        );
      }
      topic.publishAt = when.toISOString();
    }
    if (cells.status) {
      const status = cells.status.toLowerCase();
      if (status !== "draft" && status !== "ready") fail("status", `expected draft or ready, got "${cells.status}"`);
      topic.status = status as "draft" | "ready";
    }
    topic.slug = cells.slug ? slugify(cells.slug) : slugify(topicText);
    if (!topic.slug) fail(cells.slug ? "slug" : "topic", "no URL-safe slug can be made from it; add a slug column");
    topic.id = topicId(cells);
    topics.push(topic);
  }
  return { topics, warnings };
}

/** Hash of a row's known, non-empty values: the same row always gives the same id, whatever the column order. */
export function topicId(cells: Record<string, string>): string {
  const canonical = Object.keys(cells)
    .filter((key) => cells[key])
    .sort()
    .map((key) => [key, cells[key]]);
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex").slice(0, 16);
}

// --- internal ---

function _list(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(/[;,]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

/** Line of the opening quote of a field still open at the end of the text (RFC 4180 quoting), if any. */
function _openQuoteLine(text: string): number | undefined {
  let line = 1;
  let openedAt: number | undefined;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (openedAt !== undefined) {
      if (char === '"') {
        if (text[i + 1] === '"') i++;
        else openedAt = undefined;
      } else if (char === "\n") line++;
      continue;
    }
    if (char === '"' && fieldStart) openedAt = line;
    if (char === "\n") line++;
    fieldStart = char === "," || char === "\n" || (fieldStart && (char === " " || char === "\t" || char === "\r"));
  }
  return openedAt;
}

function _countNewlines(record: string[]): number {
  let count = 0;
  for (const cell of record) for (const char of cell) if (char === "\n") count++;
  return count;
}

function _csvError(error: CsvError, fileName: string, text: string): SiteloomError {
  const info = error as CsvError & { lines?: number; column?: number | string; index?: number };
  if (error.code === "CSV_QUOTE_NOT_CLOSED") {
    // csv-parse reports the end of the file; the user needs the line where the quote opens
    const line = _openQuoteLine(text);
    return new SiteloomError(
      "ERR_CSV_INVALID",
      `${fileName} line ${line ?? info.lines}: a quoted field opens here and is never closed; add the closing double quote (write "" for a quote inside a field)`,
      { cause: error },
    );
  }
  const where = [
    info.lines !== undefined ? `line ${info.lines}` : undefined,
    info.index !== undefined ? `column ${info.index + 1}` : undefined,
  ]
    .filter(Boolean)
    .join(", ");
  if (error.code === "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH") {
    const [, expected, got] = /expect (\d+), got (\d+)/.exec(error.message) ?? [];
    return new SiteloomError(
      "ERR_CSV_INVALID",
      `${fileName} line ${info.lines}: the row has ${got ?? "a different number of"} fields but the header has ${expected ?? "another number"}; put values that contain commas in double quotes`,
      { cause: error },
    );
  }
  const reason = error.message.replace(/ at line \d+.*$/s, "").replace(/:\s*$/, "");
  return new SiteloomError("ERR_CSV_INVALID", `${fileName}${where ? ` ${where}` : ""}: ${reason}`, { cause: error });
}
