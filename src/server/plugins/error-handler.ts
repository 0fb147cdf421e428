import type { FastifyError, FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import { type ErrorCode, isSiteloomError } from "../../errors.ts";
import { redact } from "../../secret.ts";

/** The JSON body of every error response. */
export interface ErrorBody {
  statusCode: number;
  /** SiteloomError code, or ERR_VALIDATION / ERR_BAD_REQUEST / ERR_BODY_TOO_LARGE / ... for HTTP-level problems. */
  code: string;
  message: string;
  /** Further lines, e.g. every validation problem. */
  details?: string[];
}

/** HTTP status of each error code that is not a 500; the one place where that mapping lives. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  ERR_USAGE: 400,
  ERR_SITE_INVALID_NAME: 400,
  ERR_CONFIG_ENV_UNKNOWN: 400,
  ERR_REFERENCE_INVALID: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_PERMISSIONS: 403,
  ERR_NOT_FOUND: 404,
  ERR_SITE_NOT_FOUND: 404,
  ERR_SECRET_NOT_FOUND: 404,
  ERR_WORKSPACE_NOT_FOUND: 404,
  ERR_LOCKED: 409,
  ERR_STORE_CONFLICT: 409,
  ERR_SECRET_READ_ONLY: 409,
  ERR_CONFIG_INVALID: 422,
  ERR_ARTICLE_INVALID: 422,
  ERR_REFERENCE_UNRESOLVED: 422,
  ERR_REFERENCE_FORBIDDEN: 422,
  ERR_RATE_LIMITED: 429,
  ERR_NOT_IMPLEMENTED: 501,
  ERR_SECRET_BACKEND: 502,
  ERR_SECRET_LOCKED: 503,
};

/** Maps any thrown error to a status and a body; never echoes the message of an unexpected error. */
export function toErrorResponse(error: unknown): ErrorBody {
  if (isSiteloomError(error)) {
    const statusCode = STATUS[error.code] ?? 500;
    return {
      statusCode,
      code: error.code,
      message: redact(error.message),
      ...(error.details.length > 0 ? { details: error.details.map(redact) } : {}),
    };
  }
  const fe = error as Partial<FastifyError> & { validation?: unknown[] };
  const status = typeof fe.statusCode === "number" ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    let code = "ERR_BAD_REQUEST";
    if (fe.validation) code = "ERR_VALIDATION";
    else if (status === 413) code = "ERR_BODY_TOO_LARGE";
    else if (status === 415) code = "ERR_UNSUPPORTED_MEDIA_TYPE";
    else if (status === 429) code = "ERR_RATE_LIMITED";
    return { statusCode: status, code, message: redact(_firstLine(String(fe.message ?? "bad request"))) };
  }
  return {
    statusCode: 500,
    code: "ERR_INTERNAL",
    message: "internal error; the server log has the details",
  };
}

/**
 * The single `setErrorHandler` (and not-found handler) of the server: SiteloomError codes and Fastify's own
 * request errors (validation, bad JSON, oversize bodies, media types) become 4xx JSON bodies; only our own faults
 * become 5xx. Messages pass through the secret redaction.
 */
const errorHandler: FastifyPluginAsync = async (fastify) => {
  fastify.setErrorHandler((error, request, reply) => {
    const body = toErrorResponse(error);
    if (body.statusCode >= 500) request.log.error({ err: error }, "request failed");
    request.auditInfo.error = body.code;
    if (body.statusCode === 401) reply.header("www-authenticate", 'Bearer realm="siteloom"');
    const retryAfter = (error as { retryAfter?: number }).retryAfter;
    if (body.statusCode === 429 && retryAfter) reply.header("retry-after", String(retryAfter));
    return reply.status(body.statusCode).send(body);
  });
  fastify.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      statusCode: 404,
      code: "ERR_NOT_FOUND",
      message: `no route ${request.method} ${_firstLine(request.url.split("?")[0] ?? "").slice(0, 200)}; see /openapi.json`,
    };
    return reply.status(404).send({ ...body, message: redact(body.message) });
  });
};

export const errorHandlerPlugin = fp(errorHandler, { name: "siteloom-error-handler", fastify: "5.x" });

// --- internal ---

function _firstLine(text: string): string {
  return text.split("\n")[0]!.slice(0, 500);
}
