import { createRequire } from "node:module";
import type { BackendDescriptor } from "../define.ts";
import { awsStore } from "./descriptors/aws.ts";
import { azureStore } from "./descriptors/azure.ts";
import { digitaloceanStore } from "./descriptors/digitalocean.ts";
import { envStore } from "./descriptors/env.ts";
import { fileStore } from "./descriptors/file.ts";
import { gcpStore } from "./descriptors/gcp.ts";
import { vaultStore } from "./descriptors/vault.ts";

/**
 * Every backend type, in the order the docs and `secrets backend` show them. A backend is its module
 * (`backends/<type>.ts`: the factory) and its descriptor (`backends/descriptors/<type>.ts`: option schema, summary,
 * packages and `load: () => import("../<type>.ts")`), listed here once. The config schema, the error messages,
 * `secrets backend` and docs/secrets.md read only descriptors, so no backend module (let alone its SDK) is loaded
 * until a store of that type is opened.
 */
const ALL = [fileStore, envStore, vaultStore, awsStore, gcpStore, azureStore, digitaloceanStore] as const;

export const BACKENDS: readonly BackendDescriptor[] = ALL as unknown as readonly BackendDescriptor[];

/** The option schema of each type, for `secrets.stores.<name>` (a discriminated union on `type`). */
export const STORE_SCHEMAS = ALL.map((b) => b.schema) as unknown as SchemasOf<typeof ALL>;

type SchemasOf<T extends readonly unknown[]> = {
  -readonly [K in keyof T]: T[K] extends { schema: infer S } ? S : never;
};

/** The descriptor of a backend type; undefined when no backend has that name. */
export function findBackend(type: string): BackendDescriptor | undefined {
  return BACKENDS.find((b) => b.type === type);
}

/** "file, env, vault, aws, gcp or azure": for messages. */
export function backendTypeList(): string {
  const types = BACKENDS.map((b) => b.type);
  return `${types.slice(0, -1).join(", ")} or ${types.at(-1)}`;
}

/** What `secrets backend` and the docs show about a type: never loads a module, only looks whether SDKs are installed. */
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
