import { join } from "node:path";
import { SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import { writeFileAtomic } from "../files.ts";
import { envVarName } from "./env-names.ts";
import { ensurePrivateDir } from "./fs-util.ts";
import type { SecretStore } from "./store.ts";

export type ExportFormat = "env" | "compose" | "k8s";

/** A file an export produces: a name (relative to --out), its content, and its mode. */
export interface ExportFile {
  name: string;
  content: string;
  mode: number;
}

export interface BuildExportOptions {
  format: ExportFormat;
  scope?: string | undefined;
  /** Name of the Kubernetes Secret. @default "siteloom-secrets" */
  k8sName?: string;
}

/** `buildExport` as an audited action: the export (which reveals every value it holds) is one audit event. */
export async function exportSecrets(store: SecretStore, options: BuildExportOptions): Promise<ExportFile[]> {
  const files = await buildExport(store, options);
  publishEvent({
    action: "export",
    ref: `store:${store.name}${options.scope ? `/${options.scope}` : ""}`,
    store: store.name,
    env: store.env,
    actor: currentActor(),
    outcome: "ok",
  });
  return files;
}

/**
 * Writes the files of an export (mode 0600 each, atomically): the one file at `out`, or, for Compose, every file into
 * the folder `out` (created 0700). Returns the paths written.
 */
export async function writeExport(files: ExportFile[], format: ExportFormat, out: string): Promise<string[]> {
  if (format !== "compose") {
    await writeFileAtomic(out, files[0]!.content, { mode: files[0]!.mode });
    return [out];
  }
  await ensurePrivateDir(out);
  const written: string[] = [];
  for (const f of files) {
    await writeFileAtomic(join(out, f.name), f.content, { mode: f.mode, mkdir: false });
    written.push(join(out, f.name));
  }
  return written;
}

/**
 * What a container needs, from a store: an env file of `SITELOOM_SECRET_<SCOPE>__<NAME>` lines, secret files plus a
 * Compose `secrets:` snippet, or a Kubernetes `Secret` manifest (mounted, its keys `<scope>.<NAME>` are the files
 * the env backend reads). Every output holds plaintext values.
 */
export async function buildExport(store: SecretStore, options: BuildExportOptions): Promise<ExportFile[]> {
  const infos = await store.list(options.scope);
  if (infos.length === 0) {
    throw new SiteloomError(
      "ERR_SECRET_NOT_FOUND",
      `store "${store.name}" (${store.env}) holds no secrets${options.scope ? ` in scope ${options.scope}` : ""}; nothing to export`,
    );
  }
  const entries: { scope: string; name: string; value: string }[] = [];
  for (const info of infos) {
    const value = (await store.get(`secret://${info.scope}/${info.name}`)).reveal();
    entries.push({ scope: info.scope, name: info.name, value });
  }
  switch (options.format) {
    case "env": {
      const lines = ["# siteloom secrets export: PLAINTEXT secrets; keep this file private (mode 0600)"];
      for (const e of entries) {
        if (/[\r\n]/.test(e.value)) {
          throw new SiteloomError(
            "ERR_USAGE",
            `secret://${e.scope}/${e.name} spans several lines, which an env file cannot hold; export --to compose or k8s instead`,
          );
        }
        lines.push(`${envVarName("SITELOOM_SECRET_", e.scope, e.name)}=${e.value}`);
      }
      return [{ name: "siteloom.env", content: `${lines.join("\n")}\n`, mode: 0o600 }];
    }
    case "compose": {
      const files: ExportFile[] = entries.map((e) => ({ name: `${e.scope}.${e.name}`, content: e.value, mode: 0o600 }));
      const snippet = [
        "# Compose secrets for siteloom: the files next to this one hold PLAINTEXT secrets (mode 0600).",
        "# Attach them to the service: services.<name>.secrets: [" +
          entries.map((e) => `${e.scope}.${e.name}`).join(", ") +
          "]",
        "# siteloom reads them from /run/secrets/<scope>.<NAME> with secrets.backend: env",
        "secrets:",
        ...entries.flatMap((e) => [`  ${e.scope}.${e.name}:`, `    file: ./${e.scope}.${e.name}`]),
      ];
      files.push({ name: "compose.secrets.yaml", content: `${snippet.join("\n")}\n`, mode: 0o600 });
      return files;
    }
    case "k8s": {
      const lines = [
        "# Kubernetes Secret for siteloom: base64 is NOT encryption; this manifest holds PLAINTEXT secrets.",
        "# Mount it at /run/secrets (files <scope>.<NAME>) and set secrets.backend: env.",
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        `  name: ${options.k8sName ?? "siteloom-secrets"}`,
        "type: Opaque",
        "data:",
        ...entries.map((e) => `  ${e.scope}.${e.name}: ${Buffer.from(e.value).toString("base64")}`),
      ];
      return [{ name: "secret.yaml", content: `${lines.join("\n")}\n`, mode: 0o600 }];
    }
    default:
      throw new SiteloomError("ERR_USAGE", `unknown export format "${options.format as string}" (env, compose or k8s)`);
  }
}
