import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SiteloomError } from "../errors.ts";
import type { StateStore, TokenRecord } from "../store/index.ts";
import { ROLES, type Role } from "./roles.ts";

/** Prefix of every API token, so a leaked one is recognisable (and secret scanners can match it). */
export const TOKEN_PREFIX = "slt_";
/** What the store's `envs` holds for a token allowed in every environment. */
export const ALL_ENVS = "*";
const TOKEN_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/;
const TOKEN_PATTERN = /^slt_[A-Za-z0-9_-]{43}$/;
/** Compared against when no token matches, so a miss does the same work as a hit. */
const DUMMY_HASH = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/** The token operations of the state store that the server and `siteloom tokens` use. */
export type TokenStore = Pick<
  StateStore,
  "createToken" | "getToken" | "findTokenByHash" | "listTokens" | "revokeToken" | "touchToken"
>;

export interface CreateTokenOptions {
  /** Human name; it is the actor in audit entries. */
  name: string;
  role: Role;
  /** Environments allowed; empty or undefined = all. */
  envs?: string[] | undefined;
  /** Lifetime like `30d`, `12h`, `90m`; undefined = no expiry. */
  expires?: string | undefined;
  /** @default new Date() */
  now?: Date;
}

/** A token as shown to users: everything but the hash. */
export type TokenInfo = Omit<TokenRecord, "hash">;

/** The identity a verified token gives a request. */
export interface Principal {
  name: string;
  role: Role;
  /** Allowed environments; empty = all. */
  envs: string[];
}

/**
 * Creates a token and stores only its hash. The returned `token` text exists nowhere else: print it once.
 */
export async function createToken(
  store: TokenStore,
  options: CreateTokenOptions,
): Promise<{ token: string; record: TokenInfo }> {
  if (!TOKEN_NAME_PATTERN.test(options.name)) {
    throw new SiteloomError(
      "ERR_USAGE",
      `invalid token name "${options.name}": use letters, digits, ".", "_" or "-" (at most 64)`,
    );
  }
  if (!ROLES.includes(options.role)) {
    throw new SiteloomError("ERR_USAGE", `invalid role "${options.role}": use ${ROLES.join(", ")}`);
  }
  if (await store.getToken(options.name)) {
    throw new SiteloomError(
      "ERR_USAGE",
      `a token named "${options.name}" already exists; pick another name (names stay reserved after revocation for the audit trail)`,
    );
  }
  const now = options.now ?? new Date();
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  const envs = [...new Set(options.envs ?? [])].sort();
  const created = await store.createToken({
    name: options.name,
    role: options.role,
    envs: envs.length === 0 ? [ALL_ENVS] : envs,
    hash: hashToken(token),
    created: now.toISOString(),
    expires: options.expires ? new Date(now.getTime() + parseDuration(options.expires)).toISOString() : undefined,
  });
  return { token, record: _info(created) };
}

/** Tokens without their hashes. */
export async function listTokens(store: TokenStore): Promise<TokenInfo[]> {
  return (await store.listTokens()).map(_info);
}

/** Revokes a token by name; throws ERR_NOT_FOUND when there is none. */
export async function revokeToken(store: TokenStore, name: string, now = new Date()): Promise<TokenInfo> {
  const existing = await store.getToken(name);
  if (!existing) throw new SiteloomError("ERR_NOT_FOUND", `no token named "${name}"; see siteloom tokens list`);
  if (!existing.revoked) await store.revokeToken(name, now.toISOString());
  return _info((await store.getToken(name)) ?? existing);
}

/**
 * Checks a presented bearer token: its SHA-256 selects the record, and the stored hash is compared with
 * timingSafeEqual (a dummy comparison when nothing matched), so timing reveals nothing about near misses.
 */
export async function verifyToken(
  store: TokenStore,
  presented: string,
  now = new Date(),
): Promise<{ ok: true; principal: Principal; record: TokenRecord } | { ok: false; reason: string }> {
  const wellFormed = TOKEN_PATTERN.test(presented);
  const hash = hashToken(presented);
  const record = wellFormed ? await store.findTokenByHash(hash) : undefined;
  const a = Buffer.from(record?.hash ?? DUMMY_HASH);
  const b = Buffer.from(hash);
  const equal = a.length === b.length && timingSafeEqual(a, b);
  if (!record || !equal) return { ok: false, reason: "invalid token" };
  return _checked(record, now);
}

/**
 * Checks a token known by its hash only (a console session keeps the hash, never the token): the record it names must
 * still exist, be neither revoked nor expired. The hash came from our own store, so no constant-time compare is needed.
 */
export async function verifyTokenHash(
  store: TokenStore,
  hash: string,
  now = new Date(),
): Promise<{ ok: true; principal: Principal; record: TokenRecord } | { ok: false; reason: string }> {
  const record = await store.findTokenByHash(hash);
  if (!record) return { ok: false, reason: "invalid token" };
  return _checked(record, now);
}

/** `sha256:<hex>` of a token text (what the store keeps). */
export function hashToken(token: string): string {
  return `sha256:${createHash("sha256").update(token).digest("hex")}`;
}

/** `30d`, `12h`, `90m`, `45s`, `2w` → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^([1-9][0-9]{0,5})([smhdw])$/.exec(text.trim());
  if (!match) {
    throw new SiteloomError("ERR_USAGE", `invalid duration "${text}": use a number and s, m, h, d or w, e.g. 30d`);
  }
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as "s"];
  return Number(match[1]) * unit;
}

/** True when the principal may act in `env` (admins and tokens without a list may use every environment). */
export function envAllows(principal: Principal, env: string): boolean {
  return principal.role === "admin" || principal.envs.length === 0 || principal.envs.includes(env);
}

// --- internal ---

function _checked(
  record: TokenRecord,
  now: Date,
): { ok: true; principal: Principal; record: TokenRecord } | { ok: false; reason: string } {
  if (record.revoked) return { ok: false, reason: "token revoked" };
  if (record.expires && Date.parse(record.expires) <= now.getTime()) return { ok: false, reason: "token expired" };
  const envs = record.envs.includes(ALL_ENVS) ? [] : [...record.envs];
  const role = ROLES.includes(record.role as Role) ? (record.role as Role) : "viewer";
  return { ok: true, principal: { name: record.name, role, envs }, record };
}

function _info(record: TokenRecord): TokenInfo {
  const { hash: _hash, ...info } = record;
  return info;
}
