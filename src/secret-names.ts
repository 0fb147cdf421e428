/**
 * The shapes of a secret reference's parts (`secret://<scope>/<NAME>`). At the root because the config schema and the
 * secret backends (which the config schema composes) both check them.
 */
export const SCOPE_PATTERN = /^(global|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)$/;
export const SECRET_NAME_PATTERN = /^[A-Z0-9_]+$/;
