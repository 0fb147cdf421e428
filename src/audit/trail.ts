import { join } from "node:path";
import type { StateStore, StoredAuditEntry } from "../store/index.ts";
import {
  type AuditEntry,
  type AuditInput,
  appendAuditEntry,
  auditEntryMatches,
  createAuditChainCheck,
  GENESIS,
  parseAuditHead,
  type ReadAuditOptions,
  readAuditLog,
  sealAuditEntry,
  type VerifyResult,
  verifyAuditLog,
} from "./log.ts";

/**
 * Where a workspace's audit chain lives: `.siteloom/audit.log` on one machine, the `audit_log` table of the state
 * store when the store is shared (PostgreSQL), so every machine appends to one chain. Both keep the same entries,
 * hashes and head record, and `siteloom audit verify` checks either the same way.
 */
export interface AuditTrail {
  /** For messages: the file, or the store and its table. */
  readonly location: string;
  append(input: AuditInput): Promise<AuditEntry>;
  /**
   * The file log appends synchronously (the entry is on disk before the operation it records returns, and its hash
   * is known at once); a shared store cannot, so it has no `appendSync`.
   */
  appendSync?: (input: AuditInput) => AuditEntry;
  read(filter?: ReadAuditOptions): Promise<AuditEntry[]>;
  verify(): Promise<VerifyResult>;
  close(): Promise<void>;
}

/** The audit log of a workspace: `.siteloom/audit.log`. */
export function auditLogPath(workspace: { stateDir: string }): string {
  return join(workspace.stateDir, "audit.log");
}

/** The audit log file `.siteloom/audit.log` (see log.ts). */
export function createFileAuditTrail(file: string): AuditTrail {
  return {
    location: file,
    appendSync: (input) => appendAuditEntry(file, input),
    async append(input) {
      return appendAuditEntry(file, input);
    },
    async read(filter) {
      return readAuditLog(file, filter);
    },
    async verify() {
      return verifyAuditLog(file);
    },
    async close() {},
  };
}

export interface StoreAuditTrailOptions {
  /** Close the store with the trail (a store opened for it). @default false */
  ownsStore?: boolean;
  /** Entries read per query: `read` and `verify` page through the table, never loading it whole. @default 1000 */
  pageSize?: number;
}

/** The audit chain in the state store's `audit_log` table (appends serialised by the store across machines). */
export function createStoreAuditTrail(store: StateStore, options: StoreAuditTrailOptions = {}): AuditTrail {
  const pageSize = options.pageSize ?? PAGE_SIZE;
  return {
    get location() {
      return `${store.location} (table audit_log)`;
    },
    async append(input) {
      let entry: AuditEntry | undefined;
      await store.appendAudit((last) => {
        // called again if the transaction is retried after a lost connection: the last call's entry is the one kept
        entry = sealAuditEntry(input, last?.hash ?? GENESIS);
        return { time: entry.time, hash: entry.hash, text: JSON.stringify(entry) };
      });
      return entry!;
    },
    async read(filter = {}) {
      const out: AuditEntry[] = [];
      for await (const row of _pages(store, pageSize)) {
        let entry: AuditEntry;
        try {
          entry = JSON.parse(row.text) as AuditEntry;
        } catch {
          continue;
        }
        if (auditEntryMatches(entry, filter)) out.push(entry);
      }
      return out;
    },
    async verify() {
      // the head first: entries appended while the pages are read come after it, and so never look cut off
      const head = parseAuditHead((await store.getDocument("audit", "head"))?.value);
      const check = createAuditChainCheck();
      for await (const row of _pages(store, pageSize)) {
        const problem = check.add(row.text);
        if (problem) return problem;
      }
      return check.finish(head, `the audit head record (document audit/head in ${store.location})`);
    },
    async close() {
      if (options.ownsStore) await store.close();
    },
  };
}

/** The trail that goes with an open store: its chain when it is shared (PostgreSQL), else `.siteloom/audit.log`. */
export function auditTrailOf(store: StateStore, workspace: { stateDir: string }): AuditTrail {
  return store.kind === "postgres" ? createStoreAuditTrail(store) : createFileAuditTrail(auditLogPath(workspace));
}

// --- internal ---

/** Entries read per query by default. */
const PAGE_SIZE = 1_000;

/** Every entry of the store's chain, in order, one page at a time. */
async function* _pages(store: StateStore, pageSize: number): AsyncGenerator<StoredAuditEntry> {
  let afterSeq = 0;
  for (;;) {
    const page = await store.listAudit({ afterSeq, limit: pageSize });
    yield* page;
    if (page.length < pageSize) return;
    afterSeq = page[page.length - 1]!.seq;
  }
}
