import type { FastifyPluginAsync, RouteOptions } from "fastify";
import fp from "fastify-plugin";

export interface OpenApiPluginOptions {
  title: string;
  version: string;
  description?: string;
}

declare module "fastify" {
  /** Documentation fields a route schema may carry (ignored by validation, read by the OpenAPI plugin). */
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    "x-responses"?: Record<string, { description: string; schema?: Record<string, unknown> }>;
    "x-content-types"?: string[];
  }
}

interface DocumentedSchema {
  summary?: string;
  description?: string;
  tags?: string[];
  querystring?: JsonSchema;
  params?: JsonSchema;
  body?: JsonSchema;
  /** Documentation of the success response (`{ 200: { description, ... } }`); not used for serialisation. */
  "x-responses"?: Record<string, { description: string; schema?: JsonSchema }>;
  "x-content-types"?: string[];
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; required?: string[] };

const ERROR_SCHEMA = {
  type: "object",
  required: ["statusCode", "code", "message"],
  properties: {
    statusCode: { type: "integer" },
    code: { type: "string", example: "ERR_VALIDATION" },
    message: { type: "string" },
    details: { type: "array", items: { type: "string" } },
  },
};

/**
 * Builds the OpenAPI 3.1 document from the routes' own schemas (collected as they are registered), so the published
 * document cannot drift from what the server validates, and serves it at GET /openapi.json.
 */
const openapi: FastifyPluginAsync<OpenApiPluginOptions> = async (fastify, options) => {
  const routes: RouteOptions[] = [];
  fastify.addHook("onRoute", (route) => {
    if (route.schema && !(route.config as { hidden?: boolean } | undefined)?.hidden) routes.push(route);
  });
  let cached: unknown;
  fastify.get("/openapi.json", { config: { hidden: true } as never }, async () => {
    cached ??= _document(routes, options);
    return cached;
  });
};

export const openApiPlugin = fp(openapi, { name: "siteloom-openapi", fastify: "5.x" });

// --- internal ---

function _document(routes: RouteOptions[], options: OpenApiPluginOptions): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const schema = route.schema as DocumentedSchema;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== "HEAD");
    const access = (route.config as { access?: { role: string; action: string } } | undefined)?.access;
    const parameters = [..._params(schema.params, "path"), ..._params(schema.querystring, "query")];
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(schema["x-responses"] ?? { 200: { description: "OK" } })) {
      responses[status] = {
        description: r.description,
        ...(r.schema ? { content: { "application/json": { schema: r.schema } } } : {}),
      };
    }
    const errors: Record<string, string> = {
      "400": "Invalid input (bad JSON, wrong types, unknown fields, bad parameters)",
      "413": "Body larger than the limit",
      "429": "Rate limit reached (per token and per address); see Retry-After",
    };
    if (access) {
      errors["401"] = "Missing, invalid, expired or revoked bearer token";
      errors["403"] = `Role or environment not allowed (needs ${access.role})`;
    }
    for (const [status, description] of Object.entries(errors)) {
      responses[status] ??= {
        description,
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      };
    }
    const operation: Record<string, unknown> = {
      summary: schema.summary,
      ...(schema.description ? { description: schema.description } : {}),
      ...(schema.tags ? { tags: schema.tags } : {}),
      ...(access
        ? { security: [{ bearer: [] }], "x-required-role": access.role, "x-audit-action": access.action }
        : { security: [] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(schema.body
        ? {
            requestBody: {
              required: true,
              content: Object.fromEntries(
                (schema["x-content-types"] ?? ["application/json"]).map((type) => [type, { schema: schema.body }]),
              ),
            },
          }
        : {}),
      responses,
    };
    for (const method of methods) {
      paths[path] ??= {};
      paths[path][method.toLowerCase()] = operation;
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: options.title,
      version: options.version,
      ...(options.description ? { description: options.description } : {}),
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "siteloom tokens create" } },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}

function _params(schema: JsonSchema | undefined, where: "path" | "query"): unknown[] {
  if (!schema?.properties) return [];
  return Object.entries(schema.properties).map(([name, s]) => ({
    name,
    in: where,
    required: where === "path" || (schema.required ?? []).includes(name),
    ...(typeof s.description === "string" ? { description: s.description } : {}),
    schema: s,
  }));
}
