export type { EnvReference, Reference, ResolveValueOptions, SecretReference, SecretResolver } from "./references.ts";
export {
  isReference,
  parseReference,
  parseSecretReference,
  resolveValue,
  SCOPE_PATTERN,
  SECRET_NAME_PATTERN,
  SECRET_SCHEME,
} from "./references.ts";
export * from "./schema.ts";
