import { randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { SessionLookup } from "../server/plugins/auth.ts";

/** Name of the console's session cookie. */
export const SESSION_COOKIE = "siteloom_session";

export interface ConsoleSession {
  id: string;
  /** The API token the user signed in with: kept in this process's memory only, never sent back to the browser. */
  token: string;
  /** Sent with every write in the x-csrf-token header. */
  csrf: string;
  expires: number;
}

export interface SessionStoreOptions {
  /** Lifetime of a session (sliding: each use extends it). @default 8 hours */
  ttlMs?: number;
  /** Mark the cookie Secure (the server speaks TLS). */
  secure: boolean;
  now?: () => number;
}

export interface SessionStore extends SessionLookup {
  create(token: string): ConsoleSession;
  get(request: FastifyRequest): ConsoleSession | undefined;
  remove(request: FastifyRequest): void;
  /** The Set-Cookie value that carries a session id (or, without one, clears the cookie). */
  cookie(id?: string): string;
}

/**
 * Browser sessions of the web console, in memory: the token typed at sign-in is exchanged for a random session id in
 * an HttpOnly, SameSite=Strict cookie (Secure under TLS), so script in the page never holds the token. A server
 * restart signs everyone out. Each request re-verifies the token, so a revoked token ends its sessions at once.
 */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const ttl = options.ttlMs ?? 8 * 3600_000;
  const now = options.now ?? Date.now;
  const sessions = new Map<string, ConsoleSession>();
  const get = (request: FastifyRequest) => {
    const id = _cookie(request.headers.cookie, SESSION_COOKIE);
    if (!id) return undefined;
    const session = sessions.get(id);
    if (!session) return undefined;
    if (session.expires < now()) {
      sessions.delete(id);
      return undefined;
    }
    session.expires = now() + ttl;
    return session;
  };
  return {
    create(token) {
      // a sign-in is also when expired sessions are swept, so the map cannot grow without bound
      for (const [id, s] of sessions) if (s.expires < now()) sessions.delete(id);
      const session = { id: _random(), token, csrf: _random(), expires: now() + ttl };
      sessions.set(session.id, session);
      return session;
    },
    get,
    lookup: get,
    remove(request) {
      const session = get(request);
      if (session) sessions.delete(session.id);
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

function _cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
