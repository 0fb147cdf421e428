import { createRequire } from "node:module";
import type { BackendDefinition } from "../define.ts";
import { awsStore } from "./aws.ts";
import { azureStore } from "./azure.ts";
import { digitaloceanStore } from "./digitalocean.ts";
import { envStore } from "./env.ts";
import { fileStore } from "./file.ts";
import { gcpStore } from "./gcp.ts";
import { vaultStore } from "./vault.ts";

/**
 * Every backend type, in the order the docs and `secrets backend` show them. A backend is one file that exports
 * its definition (schema, summary, factory); it is listed here once, and the config schema, the error messages,
 * `secrets backend` and the docs all read this list. SDKs are imported by each backend on first use.
 */
const ALL = [fileStore, envStore, vaultStore, awsStore, gcpStore, azureStore, digitaloceanStore] as const;

export const BACKENDS: readonly BackendDefinition[] = ALL as unknown as readonly BackendDefinition[];

/** The option schema of each type, for `secrets.stores.<name>` (a discriminated union on `type`). */
export const STORE_SCHEMAS = ALL.map((b) => b.schema) as unknown as SchemasOf<typeof ALL>;

type SchemasOf<T extends readonly unknown[]> = {
  -readonly [K in keyof T]: T[K] extends { schema: infer S } ? S : never;
};

/** The definition of a backend type; undefined when no backend has that name. */
export function findBackend(type: string): BackendDefinition | undefined {
  return BACKENDS.find((b) => b.type === type);
}

/** "file, env, vault, aws, gcp or azure": for messages. */
export function backendTypeList(): string {
  const types = BACKENDS.map((b) => b.type);
  return `${types.slice(0, -1).join(", ")} or ${types.at(-1)}`;
}

/** What `secrets backend` and the docs show about a type: never loads an SDK, only looks whether it is installed. */
export interface BackendTypeInfo {
  type: string;
  summary: string;
  writable: boolean;
  /** Options of `secrets.stores.<name>` besides `type`. */
  options: string[];
  packages: { name: string; version: string; installed: boolean }[];
}

export function backendTypes(): BackendTypeInfo[] {
  const require = createRequire(import.meta.url);
  const installed = (name: string) => {
    try {
      require.resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  return BACKENDS.map((b) => ({
    type: b.type,
    summary: b.summary,
    writable: b.writable,
    options: Object.keys(b.schema.shape).filter((k) => k !== "type"),
    packages: (b.packages ?? []).map((p) => ({ ...p, installed: installed(p.name) })),
  }));
}
