import { timingSafeEqual } from "node:crypto";
import rateLimit from "@fastify/rate-limit";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { SiteloomError } from "../../errors.ts";
import type { Logger } from "../../log/index.ts";
import {
  type Principal,
  type Role,
  roleAllows,
  type TokenStore,
  verifyToken,
  verifyTokenHash,
} from "../../tokens/index.ts";
import type { AuditSink } from "../ports.ts";

/** What a route declares in `config.access`: the least role it needs and the audit action it records. */
export interface RouteAccess {
  role: Role;
  /** Audit action, e.g. `config.read`; every request to the route is written to the audit log under it. */
  action: string;
}

/** What handlers add to a request's audit entry. */
export interface AuditInfo {
  key?: string | undefined;
  env?: string | undefined;
  version?: number | undefined;
  error?: string | undefined;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The verified token's identity on routes with `config.access`. */
    principal: Principal | undefined;
    auditInfo: AuditInfo;
  }
  interface FastifyContextConfig {
    /** Routes without it are public (health, OpenAPI) and not audited. */
    access?: RouteAccess;
  }
}

export interface AuthPluginOptions {
  tokens: TokenStore;
  audit: AuditSink;
  /** Requests per `windowMs` per token. */
  perToken: number;
  /** Requests per `windowMs` per client address. */
  perAddress: number;
  /** @default 60000 */
  windowMs?: number;
  logger?: Logger | undefined;
  /**
   * Browser sessions (the web console): a request without a bearer token may present a session cookie instead;
   * its writes must then carry the session's CSRF token.
   */
  sessions?: SessionLookup | undefined;
}

/** What the auth hook needs of the console's sessions. */
export interface SessionLookup {
  /** The API token's hash and the CSRF token of the request's session cookie, if it names a live session. */
  lookup(request: FastifyRequest): Promise<{ tokenHash: string; csrf: string } | undefined>;
}

/** Header that carries the CSRF token of a cookie-authenticated write. */
export const CSRF_HEADER = "x-csrf-token";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Tokens are marked as used at most this often, so a busy client does not write to the store on every request. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Bearer-token authentication, roles, rate limits (per address before authentication, per token after) and the
 * audit entry of every request to a route that declares `config.access`.
 */
const auth: FastifyPluginAsync<AuthPluginOptions> = async (fastify, options) => {
  const windowMs = options.windowMs ?? 60_000;
  await fastify.register(rateLimit, { global: false });
  const byAddress = fastify.createRateLimit({
    max: options.perAddress,
    timeWindow: windowMs,
    keyGenerator: (req) => `ip:${req.ip}`,
  });
  const byToken = fastify.createRateLimit({
    max: options.perToken,
    timeWindow: windowMs,
    keyGenerator: (req) => `token:${req.principal?.name ?? ""}`,
  });
  const touched = new Map<string, number>();

  fastify.decorateRequest("principal", undefined);
  fastify.decorateRequest("auditInfo", null as unknown as AuditInfo);

  fastify.addHook("onRequest", async (request) => {
    request.auditInfo = {};
    const limited = await byAddress(request);
    if (!limited.isAllowed && limited.isExceeded) _tooMany(limited.ttlInSeconds, "this address");
    const access = request.routeOptions.config.access;
    if (!access) return;
    const presented = _bearer(request);
    let sessionToken: string | undefined;
    if (presented === undefined && options.sessions) {
      const session = await options.sessions.lookup(request);
      if (session) {
        // a cookie rides along on any request the browser makes, so a write must prove it came from the console
        if (!SAFE_METHODS.has(request.method) && !_sameSecret(request.headers[CSRF_HEADER], session.csrf)) {
          throw new SiteloomError("ERR_FORBIDDEN", `missing or wrong ${CSRF_HEADER} header: reload the console`);
        }
        sessionToken = session.tokenHash;
      }
    }
    if (presented === undefined && sessionToken === undefined) {
      throw new SiteloomError(
        "ERR_UNAUTHORIZED",
        "missing bearer token: send `Authorization: Bearer <token>` (create one with siteloom tokens create)",
      );
    }
    const result =
      presented !== undefined
        ? await verifyToken(options.tokens, presented)
        : await verifyTokenHash(options.tokens, sessionToken ?? "");
    if (!result.ok) {
      throw new SiteloomError("ERR_UNAUTHORIZED", `${result.reason}: check the token or create a new one`);
    }
    request.principal = result.principal;
    const perToken = await byToken(request);
    if (!perToken.isAllowed && perToken.isExceeded) _tooMany(perToken.ttlInSeconds, "this token");
    if (!roleAllows(result.principal.role, access.role)) {
      throw new SiteloomError(
        "ERR_FORBIDDEN",
        `token "${result.principal.name}" has role ${result.principal.role}; ${access.action} needs ${access.role}`,
      );
    }
    const now = Date.now();
    if ((touched.get(result.principal.name) ?? 0) + TOUCH_INTERVAL_MS < now) {
      touched.set(result.principal.name, now);
      await options.tokens.touchToken(result.principal.name, new Date(now).toISOString());
    }
  });

  fastify.addHook("onResponse", async (request, reply) => {
    const access = request.routeOptions.config.access;
    // rate-limited requests are not written: a flood must not become a flood of fsync'd log lines
    if (!access || reply.statusCode === 429) return;
    const status = reply.statusCode;
    const info = request.auditInfo ?? {};
    try {
      await options.audit.append({
        actor: request.principal?.name ?? "anonymous",
        action: access.action,
        key: info.key,
        env: info.env,
        outcome: status < 400 ? "ok" : status === 401 || status === 403 ? "denied" : "error",
        source: request.ip,
        request: `${request.method} ${request.routeOptions.url ?? ""}`,
        error: status >= 400 ? (info.error ?? `HTTP_${status}`) : undefined,
        version: info.version,
      });
    } catch (error) {
      (options.logger ?? request.log).error({ err: error }, "could not write the audit entry");
    }
  });
};

export const authPlugin = fp(auth, { name: "siteloom-auth", fastify: "5.x" });

// --- internal ---

function _bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  return match ? match[1] : undefined;
}

function _sameSecret(presented: string | string[] | undefined, expected: string): boolean {
  if (typeof presented !== "string") return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function _tooMany(ttlSeconds: number, who: string): never {
  const error = new SiteloomError(
    "ERR_RATE_LIMITED",
    `too many requests from ${who}; retry in ${ttlSeconds} s (the limit is server.rateLimit per minute)`,
  );
  Object.assign(error, { retryAfter: ttlSeconds });
  throw error;
}
