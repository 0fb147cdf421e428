import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";

/** First line of a journal: which run it belongs to and what it was going to upload. */
export interface JournalHeader {
  kind: "start";
  /** The run id; it is also the random part of the run's temp names, so a rerun can find and resume them. */
  runId: string;
  /** The manifest the run started from. */
  baseId: string | undefined;
  /** Paths the run planned to upload (their temp files may be left over). */
  planned: string[];
  /**
   * The files a rerun may resume (large ones): the content hash the partial temp file holds the start of, and that
   * temp file's name when it is not the run's first (`tempNameFor` with a tag). A partial of other content is never
   * resumed.
   */
  resumable?: Record<string, { hash: string; temp?: string }>;
  /** Temp files of earlier runs still to remove. */
  stale?: string[];
}

/** An upload moved to a new temp file (its earlier one is stale: removed, never renamed into place). */
export interface JournalTemp {
  kind: "temp";
  path: string;
  temp: string;
}

/** One file renamed into place. */
export interface JournalDone {
  kind: "done";
  path: string;
  size: number;
  hash: string;
  mtime: number;
}

/** One remote file deleted. */
export interface JournalDeleted {
  kind: "deleted";
  path: string;
}

export type JournalRecord = JournalHeader | JournalDone | JournalDeleted | JournalTemp;

export interface Journal {
  append(record: JournalDone | JournalDeleted | JournalTemp): Promise<void>;
  /** Waits for every record to be on disk, then closes. */
  close(): Promise<void>;
}

/** What a journal left by an interrupted run says. */
export interface JournalState {
  header: JournalHeader;
  done: Map<string, JournalDone>;
  deleted: Set<string>;
  /** The temp file each upload was last writing to, where it is not the run's first name. */
  temps: Map<string, string>;
  /** Temp files that are no longer any upload's current one (and those the header listed). */
  stale: Set<string>;
}

/** Reads a journal left behind by an interrupted deploy; undefined when there is none. A torn last line is ignored. */
export async function loadJournal(file: string): Promise<JournalState | undefined> {
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  let header: JournalHeader | undefined;
  const done = new Map<string, JournalDone>();
  const deleted = new Set<string>();
  const temps = new Map<string, string>();
  const stale = new Set<string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
    } catch {
      continue; // a line cut by a crash
    }
    if (record.kind === "start") {
      header = record;
      for (const temp of record.stale ?? []) stale.add(temp);
      for (const [path, entry] of Object.entries(record.resumable ?? {})) if (entry.temp) temps.set(path, entry.temp);
    } else if (record.kind === "temp") {
      const before = temps.get(record.path);
      if (before !== undefined) stale.add(before);
      temps.set(record.path, record.temp);
    } else if (record.kind === "done") {
      done.set(record.path, record);
      deleted.delete(record.path);
    } else if (record.kind === "deleted") {
      deleted.add(record.path);
      done.delete(record.path);
    }
  }
  return header === undefined ? undefined : { header, done, deleted, temps, stale };
}

/**
 * Starts a journal (replacing any old one). Records are appended as files land; fsyncs are coalesced (one in flight,
 * covering every record written before it), so a journal costs no round trip per file yet survives a crash except
 * for the last few records, whose files a rerun simply uploads again.
 */
export async function createJournal(file: string, header: JournalHeader): Promise<Journal> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle: FileHandle = await open(file, "w", 0o600);
  await handle.writeFile(`${JSON.stringify(header)}\n`);
  await handle.sync();
  let writing = Promise.resolve();
  let syncing: Promise<void> | undefined;
  let dirty = false;
  const sync = (): Promise<void> => {
    if (syncing !== undefined) {
      dirty = true;
      return syncing;
    }
    dirty = false;
    syncing = handle
      .sync()
      .catch(() => {})
      .finally(() => {
        syncing = undefined;
        if (dirty) void sync();
      });
    return syncing;
  };
  return {
    append(record) {
      writing = writing.then(() => handle.appendFile(`${JSON.stringify(record)}\n`).then(() => undefined));
      return writing.then(() => {
        void sync();
      });
    },
    async close() {
      await writing;
      while (syncing !== undefined) await syncing;
      await handle.sync().catch(() => {});
      await handle.close();
    },
  };
}

export async function removeJournal(file: string): Promise<void> {
  await rm(file, { force: true });
}
