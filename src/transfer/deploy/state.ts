import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writePrivateFile } from "../../files.ts";
import type { StateStore } from "../../store/index.ts";
import type { RemoteEntry } from "../types.ts";
import {
  type Journal,
  type JournalHeader,
  type JournalRecord,
  type JournalState,
  parseJournalLines,
  readJournalRecords,
  startJournalBatches,
} from "./journal.ts";
import { loadLocalManifest, type Manifest, parseManifest, serializeManifest } from "./manifest.ts";

/** The remote manifest file's size and server time as last written or read, for the manifest id it held. */
export interface DeployStamp {
  id: string;
  size: number;
  mtime: number;
}

/**
 * Where a deploy target's own state lives: the manifest of its last deploy (which doubles as the hash cache of the
 * local scan), the stamp of the remote manifest file, and the journal of a deploy in progress. `runDeploy` reads and
 * writes them only through this, so it does not care where they live.
 */
export interface DeployState {
  /** The manifest of the last deploy of this target (by any machine sharing the store); undefined when none. */
  loadManifest(): Promise<Manifest | undefined>;
  saveManifest(manifest: Manifest): Promise<void>;
  loadStamp(): Promise<DeployStamp | undefined>;
  /** Records the remote manifest's size and server time; a server that gives no time gets no stamp (always read). */
  saveStamp(id: string, entry: RemoteEntry | undefined): Promise<void>;
  /** What a journal left by an interrupted deploy (of any machine) says; undefined when there is none. */
  loadJournal(): Promise<JournalState | undefined>;
  /** Starts a journal, replacing any old one. */
  startJournal(header: JournalHeader): Promise<Journal>;
  removeJournal(): Promise<void>;
}

export interface DeployStateOptions {
  /**
   * The workspace's state store (SQLite or PostgreSQL). Without one (a dry run outside a pipeline), the state is read
   * from the local files only and never written.
   */
  store: StateStore | undefined;
  /** The workspace state directory (.siteloom); the local copy of the manifest lives under deploy/. */
  stateDir: string;
  site: string;
  env: string;
}

/** Store namespaces of the deploy state; the key is `<site>.<env>` (journal batches: `<site>.<env>/<seq>`). */
export const DEPLOY_MANIFEST_NAMESPACE = "deploy-manifest";
export const DEPLOY_HEAD_NAMESPACE = "deploy-head";
export const DEPLOY_JOURNAL_NAMESPACE = "deploy-journal";

/**
 * The deploy state of one target (site and environment) in the state store, with a local copy of the manifest.
 *
 * The store (SQLite or PostgreSQL: one code path) keeps the manifest, a small head document (the manifest's id and the
 * remote stamp) and the journal, so any machine sharing a PostgreSQL store resumes a deploy another one started. The
 * local file `.siteloom/deploy/<site>.<env>.json` is only a cache: it is used when its id is the head's (one small
 * read), so an unchanged target never fetches its whole manifest from the store. A workspace from before the store
 * kept them (no head yet) is read from its files once, then the store takes over.
 */
export function createDeployState(options: DeployStateOptions): DeployState {
  const { store, site } = options;
  const target = `${site}.${options.env}`;
  const base = join(options.stateDir, "deploy", target);
  const cacheFile = `${base}.json`;
  const legacyJournal = `${base}.journal`;
  const legacyStamp = `${base}.stamp.json`;
  let head: _Head | undefined;
  const readHead = async (): Promise<_Head | undefined> => {
    head ??= _asHead((await store?.getDocument(DEPLOY_HEAD_NAMESPACE, target))?.value);
    return head;
  };
  const writeHead = async (next: _Head): Promise<void> => {
    if (!store) return;
    await store.putDocument(DEPLOY_HEAD_NAMESPACE, target, next);
    head = next;
  };

  return {
    async loadManifest() {
      const current = await readHead();
      const cached = await loadLocalManifest(cacheFile, site);
      if (current === undefined) return cached; // no deploy recorded in the store yet: the files of old workspaces
      if (cached?.id === current.id) return cached;
      const doc = await store?.getDocument<string>(DEPLOY_MANIFEST_NAMESPACE, target);
      if (doc === undefined) return undefined;
      const parsed = parseManifest(doc.value, { site });
      if (!parsed.ok || parsed.manifest.id !== current.id) return undefined;
      await writePrivateFile(cacheFile, serializeManifest(parsed.manifest));
      return parsed.manifest;
    },

    async saveManifest(manifest) {
      const data = serializeManifest(manifest);
      if (store) {
        // as text: the self hash is checked again on the way back, and JSON columns could reorder keys
        await store.putDocument(DEPLOY_MANIFEST_NAMESPACE, target, data.toString("utf8"));
        const current = await readHead();
        await writeHead({ id: manifest.id, ...(current?.stamp ? { stamp: current.stamp } : {}) });
        await rm(legacyStamp, { force: true });
      }
      await writePrivateFile(cacheFile, data);
    },

    async loadStamp() {
      const current = await readHead();
      return current === undefined ? _readLegacyStamp(legacyStamp) : current.stamp;
    },

    async saveStamp(id, entry) {
      if (!store) return; // a dry run outside a pipeline writes nothing
      const stamp =
        entry?.type === "file" && entry.mtime !== undefined ? { id, size: entry.size, mtime: entry.mtime } : undefined;
      const current = await readHead();
      if (current !== undefined) await writeHead({ id: current.id, ...(stamp ? { stamp } : {}) });
      else if (stamp)
        await writePrivateFile(legacyStamp, `${JSON.stringify(stamp)}\n`); // until the store has a head
      else await rm(legacyStamp, { force: true });
    },

    async loadJournal() {
      const batches = (await store?.listDocuments<JournalRecord[]>(DEPLOY_JOURNAL_NAMESPACE, `${target}/`)) ?? [];
      if (batches.length > 0) return readJournalRecords(batches.flatMap((doc) => doc.value));
      // a journal left by a deploy from before the store kept them
      const text = await readFile(legacyJournal, "utf8").catch(() => undefined);
      return text === undefined ? undefined : readJournalRecords(parseJournalLines(text));
    },

    async startJournal(header) {
      await this.removeJournal();
      // one document per batch of records, numbered so that they read back in order
      return startJournalBatches(header, async (seq, records) => {
        await store?.putDocument(DEPLOY_JOURNAL_NAMESPACE, `${target}/${String(seq).padStart(9, "0")}`, records);
      });
    },

    async removeJournal() {
      const batches = (await store?.listDocuments(DEPLOY_JOURNAL_NAMESPACE, `${target}/`)) ?? [];
      for (const doc of batches) await store?.deleteDocument(DEPLOY_JOURNAL_NAMESPACE, doc.key);
      await rm(legacyJournal, { force: true });
    },
  };
}

// --- internal ---

interface _Head {
  /** Id of the manifest of the last deploy. */
  id: string;
  stamp?: DeployStamp;
}

function _asHead(value: unknown): _Head | undefined {
  const head = value as Partial<_Head> | undefined;
  return typeof head?.id === "string"
    ? { id: head.id, ...(_isStamp(head.stamp) ? { stamp: head.stamp } : {}) }
    : undefined;
}

function _isStamp(value: unknown): value is DeployStamp {
  const stamp = value as Partial<DeployStamp> | undefined;
  return typeof stamp?.id === "string" && typeof stamp.size === "number" && typeof stamp.mtime === "number";
}

async function _readLegacyStamp(file: string): Promise<DeployStamp | undefined> {
  try {
    const value: unknown = JSON.parse(await readFile(file, "utf8"));
    return _isStamp(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
