/** First line of a journal: which run it belongs to and what it was going to upload. */
export interface JournalHeader {
  kind: "start";
  /** The run id; it is also the random part of the run's temp names, so a rerun can find and resume them. */
  runId: string;
  /** The manifest the run started from. */
  baseId: string | undefined;
  /** The run's backup folder as the manifest names it (`<backup root>/<run id>`): a rerun keeps its backups there. */
  backupDir?: string;
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
  /** Waits for every record to be written, then closes. */
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

/** Folds a journal's records (in order) into what they say; undefined when they hold no header. */
export function readJournalRecords(records: JournalRecord[]): JournalState | undefined {
  let header: JournalHeader | undefined;
  const done = new Map<string, JournalDone>();
  const deleted = new Set<string>();
  const temps = new Map<string, string>();
  const stale = new Set<string>();
  for (const record of records) {
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

/** The records of a JSON-lines journal file (the form before the state store kept journals); a torn line is skipped. */
export function parseJournalLines(text: string): JournalRecord[] {
  const records: JournalRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch {
      // a line cut by a crash
    }
  }
  return records;
}

/**
 * Starts a journal whose records are written in numbered batches by `write` (the header alone first, awaited).
 * Batches are coalesced (records appended within `_GATHER_MS` go together, one write in flight), so a journal costs no
 * round trip or transaction per file yet survives a crash except for the last few records, whose files a rerun simply
 * uploads again.
 * Records appended while a batch is written follow as soon as it is done. A failed batch is carried into the next
 * one; `close` waits for the last.
 */
export async function startJournalBatches(
  header: JournalHeader,
  write: (seq: number, records: JournalRecord[]) => Promise<void>,
): Promise<Journal> {
  await write(0, [header]);
  let seq = 1;
  let pending: JournalRecord[] = [];
  let writing: Promise<void> | undefined;
  const flush = (): Promise<void> => {
    if (writing !== undefined || pending.length === 0) return writing ?? Promise.resolve();
    const batch = pending;
    pending = [];
    let written = false;
    writing = write(seq, batch)
      .then(
        () => {
          seq++;
          written = true;
        },
        () => {
          pending = [...batch, ...pending]; // carried into the next batch
        },
      )
      .finally(() => {
        writing = undefined;
        // what was appended meanwhile goes now, not with the next append (a stalled host may never bring one);
        // after a failed batch the next append or close tries again
        if (written) void flush();
      });
    return writing;
  };
  // Records are gathered for a moment before a batch goes: files finish one by one, and a store that writes at once
  // (SQLite) would otherwise take one transaction per file.
  let timer: NodeJS.Timeout | undefined;
  return {
    async append(record) {
      pending.push(record);
      timer ??= setTimeout(() => {
        timer = undefined;
        void flush();
      }, _GATHER_MS);
    },
    async close() {
      clearTimeout(timer);
      timer = undefined;
      // the batch in flight, then what was appended meanwhile (one more try for a failed one)
      for (let tries = 0; tries < 3 && (writing !== undefined || pending.length > 0); tries++) {
        await writing;
        await flush();
      }
      await writing;
    },
  };
}

/** How long appended records wait for others before their batch is written. */
const _GATHER_MS = 25;
