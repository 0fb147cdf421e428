import { createHash, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { SessionLookup } from "../server/plugins/auth.ts";
import type { ConsoleSessionRecord, StateStore } from "../store/index.ts";

/** Name of the console's session cookie. */
export const SESSION_COOKIE = "siteloom_session";

/** What sessions need of the state store. */
export type SessionTable = Pick<StateStore, "createSession" | "getSession" | "touchSession" | "deleteSession">;

export interface SessionStoreOptions {
  /** Where sessions live: the state store, so a restart keeps them and every API instance sees them. */
  store: SessionTable;
  /** Lifetime of a session (sliding: each use extends it). @default 8 hours */
  ttlMs?: number;
  /** Mark the cookie Secure (the server speaks TLS). */
  secure: boolean;
  now?: () => number;
}

export interface SessionStore extends SessionLookup {
  /** Starts a session for a verified token (given by its hash); the id is the cookie's value, known only here. */
  create(tokenHash: string): Promise<{ id: string; csrf: string }>;
  get(request: FastifyRequest): Promise<ConsoleSessionRecord | undefined>;
  remove(request: FastifyRequest): Promise<void>;
  /** The Set-Cookie value that carries a session id (or, without one, clears the cookie). */
  cookie(id?: string): string;
}

/** A session's expiry is moved on at most this often, so a busy page does not write to the store on every request. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Browser sessions of the web console, in the state store: the token typed at sign-in is exchanged for a random
 * session id in an HttpOnly, SameSite=Strict cookie (Secure under TLS), so script in the page never holds the token.
 * The store keeps hashes only (of the cookie's value and of the token), so a restart keeps everyone signed in, any
 * API instance on the same store serves any session, and a copy of the table signs nobody in. Each request looks the
 * token up again, so a revoked token ends its sessions at once.
 */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const ttl = options.ttlMs ?? 8 * 3600_000;
  const now = options.now ?? Date.now;
  const iso = (ms: number) => new Date(ms).toISOString();
  const get = async (request: FastifyRequest) => {
    const value = _cookie(request.headers.cookie, SESSION_COOKIE);
    if (!value) return undefined;
    const at = now();
    const session = await options.store.getSession(_hash(value), iso(at));
    if (!session) return undefined;
    if (Date.parse(session.expires) - at < ttl - TOUCH_EVERY_MS) {
      session.expires = iso(at + ttl);
      await options.store.touchSession(session.id, session.expires);
    }
    return session;
  };
  return {
    async create(tokenHash) {
      const id = _random();
      const csrf = _random();
      const at = now();
      await options.store.createSession({ id: _hash(id), tokenHash, csrf, created: iso(at), expires: iso(at + ttl) });
      return { id, csrf };
    },
    get,
    lookup: get,
    async remove(request) {
      const session = await get(request);
      if (session) await options.store.deleteSession(session.id);
    },
    cookie(id) {
      const flags = `Path=/; HttpOnly; SameSite=Strict${options.secure ? "; Secure" : ""}`;
      return id ? `${SESSION_COOKIE}=${id}; ${flags}` : `${SESSION_COOKIE}=; ${flags}; Max-Age=0`;
    },
  };
}

// --- internal ---

function _random(): string {
  return randomBytes(32).toString("base64url");
}

function _hash(id: string): string {
  return `sha256:${createHash("sha256").update(id).digest("hex")}`;
}

function _cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
