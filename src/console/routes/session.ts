import type { FastifyPluginAsync } from "fastify";
import { SiteloomError } from "../../errors.ts";
import { principalOf } from "../../server/access.ts";
import { verifyToken } from "../../tokens/index.ts";
import type { ConsoleContext } from "../context.ts";

/** POST /console/session (sign in with an API token), GET (who am I, CSRF token), DELETE (sign out). */
export const sessionRoutes: FastifyPluginAsync<{ ctx: ConsoleContext }> = async (fastify, { ctx }) => {
  fastify.post<{ Body: { token: string } }>(
    "/console/session",
    {
      schema: {
        summary: "Exchange an API token for a console session cookie (HttpOnly, SameSite=Strict)",
        tags: ["console"],
        body: {
          type: "object",
          additionalProperties: false,
          required: ["token"],
          properties: { token: { type: "string", minLength: 1, maxLength: 200 } },
        },
      },
    },
    async (request, reply) => {
      // login CSRF: a page on another site must not sign the browser in (to a session of the attacker's token)
      if (!_sameOrigin(request.headers.origin, request.host)) {
        await ctx.audit({ actor: "anonymous", action: "console.signin", outcome: "denied", source: request.ip });
        throw new SiteloomError(
          "ERR_FORBIDDEN",
          "sign-in refused: the request came from a page of another site (Origin); open the console at its own address",
        );
      }
      const result = await verifyToken(ctx.tokens, request.body.token.trim());
      if (!result.ok) {
        await ctx.audit({ actor: "anonymous", action: "console.signin", outcome: "denied", source: request.ip });
        throw new SiteloomError(
          "ERR_UNAUTHORIZED",
          `${result.reason}: check the token or create one with siteloom tokens create`,
        );
      }
      const session = await ctx.sessions.create(result.record.hash);
      await ctx.audit({ actor: result.principal.name, action: "console.signin", outcome: "ok", source: request.ip });
      reply.header("set-cookie", ctx.sessions.cookie(session.id));
      return { ...result.principal, csrf: session.csrf };
    },
  );

  fastify.get(
    "/console/session",
    {
      config: { access: { role: "viewer", action: "console.session" } },
      schema: { summary: "The signed-in identity and the CSRF token of this session", tags: ["console"] },
    },
    async (request) => {
      const principal = principalOf(request);
      return { ...principal, csrf: (await ctx.sessions.get(request))?.csrf ?? null };
    },
  );

  fastify.delete(
    "/console/session",
    {
      config: { access: { role: "viewer", action: "console.signout" } },
      schema: { summary: "Sign out: end the session and clear its cookie", tags: ["console"] },
    },
    async (request, reply) => {
      await ctx.sessions.remove(request);
      reply.header("set-cookie", ctx.sessions.cookie());
      return reply.status(204).send();
    },
  );
};

// --- internal ---

/**
 * Whether a sign-in came from the console's own page: browsers send `Origin` with every POST, and a page of another
 * site cannot forge it; its host must be the one the request was sent to. Clients that send no Origin (curl, scripts)
 * are not browsers, so a forged sign-in cannot come from them.
 */
function _sameOrigin(origin: string | undefined, host: string): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    // "null" (a sandboxed frame, a file) or garbage
    return false;
  }
}
