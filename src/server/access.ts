import type { FastifyRequest } from "fastify";
import { SiteloomError } from "../errors.ts";
import { envAllows, type Principal } from "../tokens/index.ts";
import type { ConfigSnapshot } from "./runtime.ts";

/** Shared JSON Schema pieces of the routes. */
export const ENV_PARAM = {
  type: "string",
  pattern: "^[a-z][a-z0-9-]{0,62}$",
  description: "Environment profile; default: the workspace's default environment",
} as const;
export const SITE_PARAM = {
  type: "string",
  pattern: "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
  description: "Site name (folder under sites/)",
} as const;

/** The verified principal of a route that declares `config.access` (the auth hook guarantees one). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new SiteloomError("ERR_UNAUTHORIZED", "this route needs a bearer token");
  return request.principal;
}

/**
 * The environment a request acts in: the `env` parameter or the workspace default; it must be a known profile and
 * one the token may use. Recorded in the request's audit entry.
 */
export function requestEnv(request: FastifyRequest, snapshot: ConfigSnapshot, env: string | undefined): string {
  const name = env ?? snapshot.defaultEnv;
  request.auditInfo.env = name;
  if (!snapshot.envs.includes(name)) {
    throw new SiteloomError(
      "ERR_CONFIG_ENV_UNKNOWN",
      `unknown environment "${name}"; known environments: ${snapshot.envs.join(", ")}`,
    );
  }
  const principal = principalOf(request);
  if (!envAllows(principal, name)) {
    throw new SiteloomError(
      "ERR_FORBIDDEN",
      `token "${principal.name}" may not use environment "${name}" (allowed: ${principal.envs.join(", ")})`,
    );
  }
  return name;
}

/** Throws ERR_NOT_FOUND unless the site exists in the snapshot. */
export function requireSite(snapshot: ConfigSnapshot, site: string): void {
  if (!snapshot.sites.includes(site)) {
    throw new SiteloomError(
      "ERR_SITE_NOT_FOUND",
      `no site "${site}"; known sites: ${snapshot.sites.join(", ") || "(none)"}`,
    );
  }
}
