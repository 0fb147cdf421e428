import type { ConfigVersion, StateStore } from "../store/index.ts";
import type { ChangeSource, ConfigVersionRecord, ConfigVersionRepository } from "./runtime.ts";

/** What the server keeps in a state store's config version row (`diff` and `snapshot` columns are JSON). */
interface StoredDiff {
  message: string;
  unified: string;
}
interface StoredSnapshot {
  files: Record<string, string>;
}

/** Configuration versions kept in the state store's `config_versions` table. */
export function createStoreVersionRepository(
  store: Pick<StateStore, "addConfigVersion" | "getConfigVersion" | "listConfigVersions" | "latestConfigVersion">,
): ConfigVersionRepository {
  return {
    async append(record) {
      const diff: StoredDiff = { message: record.message, unified: record.diff };
      const snapshot: StoredSnapshot = { files: record.files };
      const saved = await store.addConfigVersion({
        actor: record.actor,
        source: record.source,
        diff,
        snapshot,
        time: record.at,
      });
      return saved.id;
    },
    async get(version) {
      const row = await store.getConfigVersion(version);
      return row ? _record(row) : undefined;
    },
    async latest() {
      const row = await store.latestConfigVersion();
      return row ? _record(row) : undefined;
    },
    async list({ limit, before }) {
      const rows = await store.listConfigVersions({ limit, ...(before === undefined ? {} : { beforeId: before }) });
      return rows.map((row) => {
        const { files: _files, diff: _diff, ...summary } = _record(row);
        return summary;
      });
    },
  };
}

// --- internal ---

function _record(row: ConfigVersion): ConfigVersionRecord {
  const diff = (row.diff ?? {}) as Partial<StoredDiff>;
  const snapshot = (row.snapshot ?? {}) as Partial<StoredSnapshot>;
  return {
    version: row.id,
    at: row.time,
    actor: row.actor,
    source: row.source as ChangeSource,
    message: diff.message ?? "",
    diff: diff.unified ?? "",
    files: snapshot.files ?? {},
  };
}
