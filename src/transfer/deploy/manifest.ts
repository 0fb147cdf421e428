import { createHash, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";

/** What was deployed: path → size, hash, mtime of the local file. */
export interface ManifestEntry {
  size: number;
  hash: string;
  mtime: number;
}

export interface Manifest {
  format: "siteloom-deploy-manifest";
  version: 1;
  /** Random id of the deploy that wrote it. */
  id: string;
  /** Id of the manifest this deploy started from (undefined on the first deploy). */
  previousId: string | undefined;
  site: string;
  env: string;
  /** ISO time the deploy finished. */
  finishedAt: string;
  files: Record<string, ManifestEntry>;
  /** Directories created by deploys (empty ones included). */
  dirs: string[];
  /**
   * The previous versions kept on the server by the last deploys (newest first, `deploy.backups` of them): what
   * `siteloom deploy --rollback` restores. Absent in manifests written before backups existed.
   */
  backups?: DeployBackup[];
  /** sha256 of the manifest without this field: a manifest edited by hand or cut short is detected. */
  selfHash: string;
}

/** What one deploy changed, and where it kept the versions it replaced or deleted. */
export interface DeployBackup {
  /** Id of the manifest the deploy wrote (what `--rollback --to` names, or its first characters). */
  id: string;
  /** Id of the manifest the deploy started from: the state a rollback of this deploy returns to. */
  previousId: string | undefined;
  /** ISO time the deploy finished. */
  finishedAt: string;
  /**
   * Folder on the server holding the previous versions under their own paths: `<manifest folder>/backups/<run id>`
   * (relative to the root), or `<backup root>/<run id>` outside it (deploy.backupDir).
   */
  dir: string;
  /** Files the deploy replaced or deleted: their entry before it (their bytes are in `dir`). */
  saved: Record<string, ManifestEntry>;
  /** Files the deploy created (a rollback removes them). */
  added: string[];
  /** Directories the deploy created (a rollback removes them when empty). */
  addedDirs: string[];
}

export const MANIFEST_FILE = "manifest.json";

/** The folder, inside the manifest folder, holding one backup folder per deploy (named by its run id). */
export const BACKUPS_DIR = "backups";

/** Builds a manifest with a new id and its self hash. */
export function createManifest(
  fields: Omit<Manifest, "format" | "version" | "id" | "selfHash" | "finishedAt"> & { id?: string },
): Manifest {
  const body = {
    format: "siteloom-deploy-manifest" as const,
    version: 1 as const,
    id: fields.id ?? randomUUID(),
    previousId: fields.previousId,
    site: fields.site,
    env: fields.env,
    finishedAt: new Date().toISOString(),
    files: _sortedRecord(fields.files),
    dirs: [...fields.dirs].sort(),
    ...(fields.backups && fields.backups.length > 0 ? { backups: fields.backups } : {}),
  };
  return { ...body, selfHash: _selfHash(body) };
}

export function serializeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest)}\n`);
}

/** Why a manifest cannot be trusted, or the manifest. */
export type ParsedManifest = { ok: true; manifest: Manifest } | { ok: false; reason: string };

/** Parses and checks a manifest read from disk or from the server. */
export function parseManifest(data: Buffer | string, expect: { site: string }): ParsedManifest {
  let value: unknown;
  try {
    value = JSON.parse(String(data));
  } catch {
    return { ok: false, reason: "it is not valid JSON" };
  }
  const m = value as Partial<Manifest>;
  if (m === null || typeof m !== "object" || m.format !== "siteloom-deploy-manifest") {
    return { ok: false, reason: "it is not a siteloom deploy manifest" };
  }
  if (m.version !== 1) return { ok: false, reason: `it has unknown version ${String(m.version)}` };
  if (typeof m.files !== "object" || m.files === null || !Array.isArray(m.dirs) || typeof m.id !== "string") {
    return { ok: false, reason: "it is incomplete" };
  }
  if (m.backups !== undefined && !_validBackups(m.backups))
    return { ok: false, reason: "its backups list is malformed" };
  const { selfHash, ...body } = m;
  if (selfHash !== _selfHash(body)) return { ok: false, reason: "its checksum does not match (edited or cut short)" };
  if (m.site !== expect.site) return { ok: false, reason: `it belongs to site "${String(m.site)}"` };
  return { ok: true, manifest: m as Manifest };
}

/** Reads the local copy of the manifest; undefined when missing or unusable. */
export async function loadLocalManifest(file: string, site: string): Promise<Manifest | undefined> {
  const data = await readFile(file).catch(() => undefined);
  if (data === undefined) return undefined;
  const parsed = parseManifest(data, { site });
  return parsed.ok ? parsed.manifest : undefined;
}

/** The deny-all .htaccess written next to the remote manifest (Apache 2.4 and 2.2 syntax). */
export const DENY_ALL_HTACCESS = `# written by siteloom: the deploy manifest is not for the web
<IfModule mod_authz_core.c>
  Require all denied
</IfModule>
<IfModule !mod_authz_core.c>
  Order allow,deny
  Deny from all
</IfModule>
`;

// --- internal ---

function _selfHash(body: object): string {
  return createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

function _validBackups(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  return value.every(
    (b: Partial<DeployBackup>) =>
      b !== null &&
      typeof b === "object" &&
      typeof b.id === "string" &&
      typeof b.dir === "string" &&
      typeof b.saved === "object" &&
      b.saved !== null &&
      Array.isArray(b.added) &&
      Array.isArray(b.addedDirs),
  );
}

function _sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key]!;
  return out;
}
