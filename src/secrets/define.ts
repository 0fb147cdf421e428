import type { z } from "zod";
import type { SecretBackend } from "./types.ts";

/** What a backend's factory gets besides its own options: the workspace around it, without importing config. */
export interface BackendContext {
  /** Store name as configured (`file`, `team`, ...). */
  store: string;
  /** Environment whose store is opened. */
  env: string;
  /** Absolute workspace root (relative paths in options are relative to it). */
  root: string;
  /** Variables (identities, tokens, the env backend's source). */
  vars: Record<string, string | undefined>;
  /** `secrets.historySize` of the workspace. */
  historySize: number;
  /** Resolves a credential option (`${VAULT_TOKEN}`, `secret://global/X`) to its value; `origin` names the option. */
  resolveCredential(value: string, origin: string): Promise<string>;
  /** Asks for a passphrase when a store needs one and none is in the environment (the CLI prompts). */
  askPassphrase?: ((question: string) => Promise<string>) | undefined;
  /** scrypt work factor for new passphrase stores (tests lower it). */
  scryptWorkFactor?: number | undefined;
}

/** Builds a backend from its validated `secrets.stores` entry: what a backend module exports as `create`. */
export type BackendCreate<S extends z.ZodObject = z.ZodObject> = (
  config: z.output<S>,
  ctx: BackendContext,
) => SecretBackend;

/**
 * A backend type as the registry knows it, without loading it: its name, its option schema (part of
 * `siteloom.yaml`'s schema), a one-line summary for `secrets backend` and the docs, the optional packages its SDK
 * comes from, and `load`, the lazy import of the module that exports `create`. The descriptor is cheap to import;
 * the module is imported when a store of this type is opened, and its SDK when the store is first used.
 */
export interface BackendDescriptor<S extends z.ZodObject = z.ZodObject> {
  type: string;
  summary: string;
  /** Whether siteloom can write to it (`set`, `rotate`, `copy --to`). */
  writable: boolean;
  /** npm packages it loads on first use, with the version siteloom is tested with. */
  packages?: { name: string; version: string }[];
  /** `{ type: z.literal(type), ...options }`: the store's entry under `secrets.stores`. */
  schema: S;
  /** Imports the backend module (`() => import("../<type>.ts")`). */
  load(): Promise<{ create: BackendCreate<S> }>;
}

/** Typed identity helper for a backend's descriptor (`backends/descriptors/<type>.ts`). */
export function defineBackend<S extends z.ZodObject>(descriptor: BackendDescriptor<S>): BackendDescriptor<S> {
  return descriptor;
}

/** Runs `fn` once and shares its promise; a failure is forgotten so the next call tries again. */
export function memoize<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn().catch((error) => {
      p = undefined;
      throw error;
    });
    return p;
  };
}
