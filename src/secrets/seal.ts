import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { writePrivateFile } from "../files.ts";

/**
 * What siteloom last wrote to a store file, kept beside it (`<store>.seal`): the environment and the sha256 of
 * the file's bytes (the previous one too, so a crash between the seal and the store's rename still matches). It is
 * read only when a store does not open or is missing, to say which failure it is: a file that changed behind
 * siteloom's back (a damaged header looks like a wrong key to age), another environment's store copied over it, or
 * a store that was deleted. It holds no secret and decides nothing else.
 */
export interface StoreSeal {
  env: string;
  sha256: string[];
  /** ISO time of the write. */
  at: string;
}

/** Records the bytes about to replace the store (call before the rename, holding the store's lock). */
export async function writeSeal(path: string, env: string, next: Uint8Array, previous?: Uint8Array): Promise<void> {
  const sha256 = [_sha(next), ...(previous ? [_sha(previous)] : [])];
  const seal: StoreSeal = { env, sha256, at: new Date().toISOString() };
  await writePrivateFile(_sealPath(path), `${JSON.stringify(seal)}\n`);
}

/**
 * Why a store file that age would not open is not the one siteloom wrote, or undefined when it is (or nothing was
 * recorded): then the identity really is the wrong key.
 */
export async function explainUnopenable(path: string, env: string, bytes: Uint8Array): Promise<string | undefined> {
  const own = await _readSeal(_sealPath(path));
  const sha = _sha(bytes);
  if (!own || own.sha256.includes(sha)) return undefined;
  for (const name of await readdir(dirname(path)).catch(() => [] as string[])) {
    if (!name.endsWith(".seal") || name === basename(_sealPath(path))) continue;
    const other = await _readSeal(join(dirname(path), name));
    if (other && other.env !== env && other.sha256.includes(sha)) {
      return `${path} is a copy of the store of environment "${other.env}", not the ${env} store siteloom wrote there; put the ${env} store back (or use --env ${other.env})`;
    }
  }
  return `${path} is not the file siteloom last wrote (${own.at}): its age header is damaged or the file was replaced; restore it from a backup`;
}

/** The message for a store file that is gone although siteloom wrote one, or undefined when none was ever written. */
export async function explainMissing(path: string): Promise<string | undefined> {
  const own = await _readSeal(_sealPath(path));
  if (!own) return undefined;
  return `${path} was deleted (siteloom last wrote it at ${own.at}); restore it from a backup, or delete ${_sealPath(path)} to start an empty store`;
}

// --- internal ---

function _sealPath(path: string): string {
  return `${path}.seal`;
}

function _sha(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function _readSeal(file: string): Promise<StoreSeal | undefined> {
  try {
    const seal = JSON.parse(await readFile(file, "utf8")) as StoreSeal;
    return typeof seal.env === "string" && Array.isArray(seal.sha256) ? seal : undefined;
  } catch {
    return undefined;
  }
}
