/**
 * One error class for everything siteloom reports to a user. The CLI turns `code` into an exit code in exactly one
 * place (cli/main.ts); the server turns it into an HTTP status in one `setErrorHandler`.
 */
export type ErrorCode =
  | "ERR_USAGE"
  | "ERR_WORKSPACE_NOT_FOUND"
  | "ERR_WORKSPACE_EXISTS"
  | "ERR_SITE_NOT_FOUND"
  | "ERR_SITE_EXISTS"
  | "ERR_SITE_INVALID_NAME"
  | "ERR_CONFIG_INVALID"
  | "ERR_CONFIG_ENV_UNKNOWN"
  | "ERR_REFERENCE_INVALID"
  | "ERR_REFERENCE_UNRESOLVED"
  | "ERR_REFERENCE_FORBIDDEN"
  | "ERR_SECRET_NOT_FOUND"
  | "ERR_SECRET_BACKEND"
  | "ERR_SECRET_READ_ONLY"
  | "ERR_SECRET_LOCKED"
  | "ERR_SECRET_CORRUPT"
  | "ERR_SECRET_DENIED"
  | "ERR_PERMISSIONS"
  | "ERR_AUDIT_TAMPERED"
  | "ERR_TRANSFER_AUTH"
  | "ERR_TRANSFER_CONNECT"
  | "ERR_TRANSFER_HOST_KEY"
  | "ERR_TRANSFER_TLS"
  | "ERR_TRANSFER_IO"
  | "ERR_TRANSFER_UNSAFE_PATH"
  | "ERR_TRANSFER_LIMIT"
  | "ERR_DEPLOY_FAILED"
  | "ERR_PUBLISH_AUTH"
  | "ERR_PUBLISH_CONNECT"
  | "ERR_PUBLISH_FAILED"
  | "ERR_CSV_INVALID"
  | "ERR_LLM_REQUEST"
  | "ERR_LLM_AUTH"
  | "ERR_LLM_RATE_LIMITED"
  | "ERR_LLM_OUTPUT"
  | "ERR_BUDGET_EXCEEDED"
  | "ERR_ARTICLE_INVALID"
  | "ERR_ENRICH"
  | "ERR_LOCKED"
  | "ERR_STORE"
  | "ERR_ALERT_SEND"
  | "ERR_STORE_CONFLICT"
  | "ERR_STEP_FAILED"
  | "ERR_INTERRUPTED"
  | "ERR_NOT_IMPLEMENTED"
  | "ERR_UNAUTHORIZED"
  | "ERR_FORBIDDEN"
  | "ERR_NOT_FOUND"
  | "ERR_RATE_LIMITED"
  | "ERR_INTERNAL";

export interface SiteloomErrorOptions {
  /** The underlying error, kept for `--debug`. */
  cause?: unknown;
  /** The site the error concerns, when there is one. */
  site?: string;
  /** Further lines (e.g. every validation problem); printed after the message. */
  details?: string[];
}

export class SiteloomError extends Error {
  override name = "SiteloomError";
  readonly code: ErrorCode;
  readonly site: string | undefined;
  readonly details: string[];

  constructor(code: ErrorCode, message: string, opts: SiteloomErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.site = opts.site;
    this.details = opts.details ?? [];
  }
}

/** Exit codes, documented in the README. */
export const EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  secrets: 4,
  transfer: 5,
  budget: 6,
  locked: 7,
  interrupted: 130,
} as const;

/** What kind of failure an error code is: the one table, read by exit codes and by whoever must tell kinds apart. */
export type ErrorKind = Exclude<keyof typeof EXIT_CODES, "ok">;

/** The kind of failure behind an error code; the single place where that decision is made. */
export function errorKind(code: ErrorCode): ErrorKind {
  switch (code) {
    case "ERR_USAGE":
    case "ERR_SITE_INVALID_NAME":
      return "usage";
    case "ERR_WORKSPACE_NOT_FOUND":
    case "ERR_CSV_INVALID":
    case "ERR_CONFIG_INVALID":
    case "ERR_CONFIG_ENV_UNKNOWN":
    case "ERR_REFERENCE_INVALID":
    case "ERR_REFERENCE_UNRESOLVED":
    case "ERR_REFERENCE_FORBIDDEN":
      return "config";
    case "ERR_SECRET_NOT_FOUND":
    case "ERR_SECRET_BACKEND":
    case "ERR_SECRET_READ_ONLY":
    case "ERR_SECRET_LOCKED":
    case "ERR_SECRET_CORRUPT":
    case "ERR_SECRET_DENIED":
    case "ERR_PERMISSIONS":
    case "ERR_LLM_AUTH":
      return "secrets";
    case "ERR_TRANSFER_AUTH":
    case "ERR_TRANSFER_CONNECT":
    case "ERR_TRANSFER_HOST_KEY":
    case "ERR_TRANSFER_TLS":
    case "ERR_TRANSFER_IO":
    case "ERR_TRANSFER_UNSAFE_PATH":
    case "ERR_TRANSFER_LIMIT":
    case "ERR_DEPLOY_FAILED":
    case "ERR_PUBLISH_AUTH":
    case "ERR_PUBLISH_CONNECT":
    case "ERR_PUBLISH_FAILED":
      return "transfer";
    case "ERR_BUDGET_EXCEEDED":
      return "budget";
    case "ERR_LOCKED":
      return "locked";
    case "ERR_INTERRUPTED":
      return "interrupted";
    default:
      return "failure";
  }
}

/** The process exit code of an error code (EXIT_CODES by its kind). */
export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[errorKind(code)];
}

export function isSiteloomError(error: unknown): error is SiteloomError {
  return error instanceof SiteloomError;
}
