import type { FastifyPluginAsync } from "fastify";
import { listTokens, revokeToken, type TokenStore } from "../../tokens/index.ts";

export interface TokenRoutesOptions {
  tokens: TokenStore;
}

/** GET /tokens, DELETE /tokens/:name. Tokens are created only with `siteloom tokens create`, never over HTTP. */
export const tokenRoutes: FastifyPluginAsync<TokenRoutesOptions> = async (fastify, { tokens }) => {
  fastify.get(
    "/tokens",
    {
      config: { access: { role: "admin", action: "tokens.list" } },
      schema: {
        summary: "API tokens (name, role, environments, dates; never the token or its hash)",
        tags: ["tokens"],
      },
    },
    async () => ({ tokens: await listTokens(tokens) }),
  );

  fastify.delete<{ Params: { name: string } }>(
    "/tokens/:name",
    {
      config: { access: { role: "admin", action: "tokens.revoke" } },
      schema: {
        summary: "Revoke a token (kept, marked revoked, for the audit trail)",
        tags: ["tokens"],
        params: {
          type: "object",
          required: ["name"],
          additionalProperties: false,
          properties: { name: { type: "string", pattern: "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$" } },
        },
      },
    },
    async (request) => {
      request.auditInfo.key = request.params.name;
      return { token: await revokeToken(tokens, request.params.name) };
    },
  );
};
