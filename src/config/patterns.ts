/**
 * The shapes of a secret reference's parts, in a module of their own so secret backends (which the config schema
 * imports) can use them without importing the schema back.
 */
export const SCOPE_PATTERN = /^(global|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;
export const SECRET_NAME_PATTERN = /^[A-Z0-9_]+$/;
