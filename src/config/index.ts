export {
  isReference,
  parseReference,
  parseSecretReference,
  resolveValue,
  SECRET_NAME_PATTERN,
  SECRET_SCHEME,
  SCOPE_PATTERN,
} from "./references.ts";
export type { EnvReference, Reference, ResolveValueOptions, SecretReference, SecretResolver } from "./references.ts";
export * from "./schema.ts";
