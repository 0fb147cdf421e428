import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import lockfile from "proper-lockfile";
import { SiteloomError } from "../errors.ts";
import { writeFileAtomicSync } from "../files.ts";

/** One line of `.siteloom/audit.log`. Never holds a secret value. */
export interface AuditEntry {
  time: string;
  actor: string;
  action: string;
  ref: string;
  env: string;
  store?: string;
  outcome: string;
  error?: string;
  version?: number;
  /** Where the action came from: `cli`, or the client address of an API request. */
  source?: string;
  /** The site concerned (runs, deploys, locks). */
  site?: string;
  /** Short masked description (alert-worthy events: why a run failed). */
  detail?: string;
  /** Hash of the previous entry (64 zeros for the first). */
  prev: string;
  /** sha256 of this entry without `hash`, chaining it to `prev`. */
  hash: string;
}

export type AuditInput = Omit<AuditEntry, "time" | "prev" | "hash"> & { time?: string };

export const GENESIS = "0".repeat(64);

/**
 * Appends one entry, holding the log's lock so that concurrent writers (several siteloom processes) keep one
 * unbroken chain. Synchronous on purpose: an entry is on disk (fsync'd) before the operation it records returns.
 */
export function appendAuditEntry(file: string, input: AuditInput): AuditEntry {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const release = _lockSync(file);
  try {
    const entry = sealAuditEntry(input, _lastHash(file));
    const fd = openSync(file, "a", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    _writeHead(file, entry.hash);
    return entry;
  } finally {
    release();
  }
}

/** sha256 over the entry's JSON (without `hash`), keys in the order written. */
export function hashEntry(body: Record<string, unknown>): string {
  return createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

export interface ReadAuditOptions {
  since?: Date | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  /** Substring of the reference. */
  ref?: string | undefined;
}

/** Reads entries (skipping unparsable lines; `verifyAuditLog` reports those). */
export function readAuditLog(file: string, filter: ReadAuditOptions = {}): AuditEntry[] {
  if (!existsSync(file)) return [];
  const out: AuditEntry[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    let entry: AuditEntry;
    try {
      entry = JSON.parse(line) as AuditEntry;
    } catch {
      continue;
    }
    if (auditEntryMatches(entry, filter)) out.push(entry);
  }
  return out;
}

/** Whether an entry passes the filter of `readAuditLog`. */
export function auditEntryMatches(entry: AuditEntry, filter: ReadAuditOptions): boolean {
  if (filter.since && !(new Date(entry.time) >= filter.since)) return false;
  if (filter.actor && entry.actor !== filter.actor) return false;
  if (filter.action && entry.action !== filter.action) return false;
  return !(filter.ref && !String(entry.ref).includes(filter.ref));
}

/** The head record kept beside a chain: how many entries were written and the last one's hash. */
export interface AuditHead {
  count: number;
  hash: string;
  /** Set when the head went missing and an append rebuilt it at this entry. */
  rebuiltAt?: number;
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  /** 1-based line of the first problem. */
  line?: number;
  problem?: string;
}

/**
 * Checks the hash chain: every entry's hash matches its content and its `prev` is the hash of the line before.
 * An edited line fails its own hash; a deleted, inserted or moved line breaks the link of the line after it; lines
 * cut off the end are caught by the head record (`audit.log.head`) written with every append. A missing or
 * unreadable head is a failure too (deleting it would otherwise hide a cut tail), and so is a head that had to be
 * rebuilt by an append after it went missing.
 */
export function verifyAuditLog(file: string): VerifyResult {
  if (!existsSync(file)) return { ok: true, entries: 0 };
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return verifyAuditChain(lines, _readHead(file), headPath(file));
}

/**
 * Checks a chain given as its entries' JSON texts in order, against its head record (`headName` names it in
 * messages): the one check of the file log and of the chain kept in a shared state store.
 */
export function verifyAuditChain(lines: string[], head: AuditHead | undefined, headName: string): VerifyResult {
  const check = createAuditChainCheck();
  for (const line of lines) {
    const problem = check.add(line);
    if (problem) return problem;
  }
  return check.finish(head, headName);
}

/**
 * The check of `verifyAuditChain` fed one entry at a time, so a chain can be read in pages (a store's table) and
 * never held whole: `add` each entry's JSON text in order (a result is the first problem: stop there), then
 * `finish` with the head record. Only the hashes seen are kept.
 */
export function createAuditChainCheck(): {
  add(text: string): VerifyResult | undefined;
  finish(head: AuditHead | undefined, headName: string): VerifyResult;
} {
  let prev = GENESIS;
  // hash → 1-based line, to name where a misplaced entry links to and to find the head's entry
  const lineOf = new Map<string, number>();
  let count = 0;
  return {
    add(text) {
      const i = count;
      const n = i + 1;
      let entry: AuditEntry;
      try {
        entry = JSON.parse(text) as AuditEntry;
      } catch {
        return { ok: false, entries: i, line: n, problem: "not a JSON entry (edited or damaged)" };
      }
      const { hash, ...body } = entry;
      if (typeof hash !== "string" || hashEntry(body) !== hash) {
        return { ok: false, entries: i, line: n, problem: "content does not match its hash (the entry was edited)" };
      }
      if (entry.prev !== prev) {
        const earlier = lineOf.get(entry.prev);
        const problem =
          earlier !== undefined
            ? `links to line ${earlier}, not to the line before it (entries were deleted or reordered)`
            : "does not link to the line before it (an entry was deleted, inserted or moved here)";
        return { ok: false, entries: i, line: n, problem };
      }
      prev = hash;
      if (!lineOf.has(hash)) lineOf.set(hash, n);
      count = n;
      return undefined;
    },
    finish(head, headName) {
      if (!head && count > 0) {
        return {
          ok: false,
          entries: count,
          line: count + 1,
          problem: `${headName} is missing or damaged, so entries cut off the end cannot be ruled out`,
        };
      }
      if (head?.rebuiltAt !== undefined) {
        return {
          ok: false,
          entries: count,
          line: head.rebuiltAt,
          problem: `${headName} went missing and was rebuilt at entry ${head.rebuiltAt}: entries before it may have been cut off the end`,
        };
      }
      if (head && (!lineOf.has(head.hash) || head.count > count)) {
        return {
          ok: false,
          entries: count,
          line: count + 1,
          problem: `the log ends after ${count} entries but ${head.count} were written (entries were removed from the end)`,
        };
      }
      return { ok: true, entries: count };
    },
  };
}

/** A head record read back (file or store document); undefined when it is not one. */
export function parseAuditHead(value: unknown): AuditHead | undefined {
  const head = value as { count?: unknown; hash?: unknown } | undefined;
  if (typeof head?.count !== "number" || typeof head.hash !== "string") return undefined;
  return head as AuditHead;
}

/**
 * A new entry chained to `prev`: the one place an entry's time, order of fields and hash are decided, for the file
 * log and the shared store alike.
 */
export function sealAuditEntry(input: AuditInput, prev: string): AuditEntry {
  const { time, ...rest } = input;
  const body = { time: time ?? new Date().toISOString(), ...rest, prev };
  return { ...body, hash: hashEntry(body) };
}

/** Path of the head record kept next to the log. */
export function headPath(file: string): string {
  return `${file}.head`;
}

// --- internal ---

function _lastHash(file: string): string {
  if (!existsSync(file)) return GENESIS;
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return GENESIS;
    let chunk = 4096;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString("utf8").replace(/\n+$/, "");
      const nl = text.lastIndexOf("\n");
      if (nl >= 0 || start === 0) {
        const last = text.slice(nl + 1);
        try {
          return (JSON.parse(last) as AuditEntry).hash ?? GENESIS;
        } catch {
          throw new SiteloomError(
            "ERR_AUDIT_TAMPERED",
            `${file}: the last line is damaged; run siteloom audit verify and keep the file for inspection`,
          );
        }
      }
      chunk *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

function _writeHead(file: string, hash: string): void {
  const head = _readHead(file);
  let count = (head?.count ?? 0) + 1;
  let rebuiltAt = head?.rebuiltAt;
  if (!head) {
    count = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "").length;
    // a head missing before this entry (a log that already had entries) stays on record: verify reports it
    if (count > 1) rebuiltAt = count;
  }
  const record = rebuiltAt === undefined ? { count, hash } : { count, hash, rebuiltAt };
  writeFileAtomicSync(headPath(file), JSON.stringify(record), { mode: 0o600, mkdir: false });
}

function _readHead(file: string): AuditHead | undefined {
  try {
    return parseAuditHead(JSON.parse(readFileSync(headPath(file), "utf8")));
  } catch {
    return undefined;
  }
}

function _lockSync(file: string): () => void {
  const deadline = Date.now() + 30_000;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      return lockfile.lockSync(file, { realpath: false, lockfilePath: `${file}.lock`, stale: 10_000 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOCKED" || Date.now() > deadline) {
        throw new SiteloomError("ERR_LOCKED", `${file} is locked by another process; try again`, { cause: error });
      }
      Atomics.wait(sleeper, 0, 0, Math.min(50, 1 + attempt) * (0.5 + Math.random()));
    }
  }
}
