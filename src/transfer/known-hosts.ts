// SSH host keys: a pinned fingerprint (remote.hostKey) or OpenSSH's known_hosts (plain, [host]:port, wildcards,
// negations, hashed names, @revoked), and recording a newly accepted key (--accept-new).
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { SiteloomError } from "../errors.ts";

/** What the check needs from the remote settings. */
export interface HostKeyOptions {
  host: string;
  port?: number | undefined;
  /** Pinned fingerprint (`SHA256:…`); replaces the known_hosts check. */
  hostKey?: string | undefined;
  /** Accept an unknown key (never a changed one); the caller records `addLine`. */
  acceptNew?: boolean | undefined;
}

/** `SHA256:<base64 without padding>` of an SSH public key blob, as `ssh-keygen -l` prints it. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Checks the server's key before authenticating: against the pinned fingerprint, else the known_hosts file. An unknown
 * key is refused with its fingerprint and the config line to add, or accepted (`addLine` to record) with acceptNew.
 */
type _Verdict = { ok: true; addLine: string | undefined } | { ok: false; error: SiteloomError };

export function verifyHostKey(key: Buffer, options: HostKeyOptions, file: string, label: string): _Verdict {
  const fingerprint = sshFingerprint(key);
  const keyType = _keyType(key);
  const hostPattern = (options.port ?? 22) === 22 ? options.host : `[${options.host}]:${options.port}`;
  const line = `${hostPattern} ${keyType} ${key.toString("base64")}`;
  if (options.hostKey) {
    if (_sameFingerprint(options.hostKey, fingerprint)) return { ok: true, addLine: undefined };
    return {
      ok: false,
      error: new SiteloomError(
        "ERR_TRANSFER_HOST_KEY",
        `${label}: the server's host key ${fingerprint} does not match remote.hostKey (${options.hostKey}). ` +
          "This can be an attack; if the host changed its key on purpose, update remote.hostKey",
      ),
    };
  }
  const known = _knownKeys(file, options.host, options.port ?? 22);
  if (known.revoked.has(key.toString("base64"))) {
    return {
      ok: false,
      error: new SiteloomError(
        "ERR_TRANSFER_HOST_KEY",
        `${label}: host key ${fingerprint} is marked @revoked in ${file}`,
      ),
    };
  }
  if (known.keys.has(key.toString("base64"))) return { ok: true, addLine: undefined };
  if (known.keys.size > 0) {
    return {
      ok: false,
      error: new SiteloomError(
        "ERR_TRANSFER_HOST_KEY",
        `${label}: HOST KEY CHANGED: the server offered ${fingerprint} but ${file} holds a different key for this host. ` +
          `This can be an attack; if the change is expected, remove the old line from ${file} (ssh-keygen -R "${hostPattern}")`,
      ),
    };
  }
  if (options.acceptNew) return { ok: true, addLine: line };
  return {
    ok: false,
    error: new SiteloomError(
      "ERR_TRANSFER_HOST_KEY",
      `${label}: unknown host key ${fingerprint} (${keyType}). If this is the right server, add to the site's remote config: ` +
        `hostKey: "${fingerprint}" — or add it to ${file} with --accept-new`,
      { details: [`remote:`, `  hostKey: "${fingerprint}"`, `known_hosts line: ${line}`] },
    ),
  };
}

function _sameFingerprint(a: string, b: string): boolean {
  const norm = (v: string) =>
    v
      .trim()
      .replace(/^SHA256:/i, "")
      .replace(/=+$/, "");
  return norm(a) === norm(b);
}

function _keyType(key: Buffer): string {
  if (key.length < 4) return "ssh-unknown";
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString("latin1");
}

/** Keys recorded for host:port in an OpenSSH known_hosts file (plain, `[host]:port`, wildcards and hashed names). */
function _knownKeys(file: string, host: string, port: number): { keys: Set<string>; revoked: Set<string> } {
  const keys = new Set<string>();
  const revoked = new Set<string>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { keys, revoked };
  }
  const name = port === 22 ? host : `[${host}]:${port}`;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    let fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0]?.startsWith("@")) {
      marker = fields[0];
      fields = fields.slice(1);
    }
    const [patterns, , blob] = fields;
    if (patterns === undefined || blob === undefined || marker === "@cert-authority") continue;
    if (!_hostMatches(patterns, name)) continue;
    (marker === "@revoked" ? revoked : keys).add(blob);
  }
  return { keys, revoked };
}

function _hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) {
    const [, , salt, hash] = patterns.split("|");
    if (salt === undefined || hash === undefined) return false;
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return digest === hash;
  }
  let matched = false;
  for (const pattern of patterns.split(",")) {
    const negated = pattern.startsWith("!");
    const body = negated ? pattern.slice(1) : pattern;
    const regex = new RegExp(
      `^${body
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
      "i",
    );
    if (regex.test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Appends an accepted key's line to the known_hosts file (created private). */
export async function recordHostKey(file: string, line: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await appendFile(file, `${line}\n`, { mode: 0o600 });
}
