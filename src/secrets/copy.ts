import { SiteloomError } from "../errors.ts";
import { currentActor, publishEvent } from "../events.ts";
import { backendTypes } from "./backends/index.ts";
import type { SecretStore } from "./store.ts";

export interface CopySecretsOptions {
  /** Only this scope (a site, or `global`). */
  scope?: string | undefined;
  /** Report what would be copied, write nothing. */
  dryRun?: boolean | undefined;
}

export interface CopyReport {
  /** References new in the target. */
  copied: string[];
  /** References whose value in the target differed. */
  updated: string[];
  /** References already equal in the target. */
  unchanged: string[];
}

/**
 * Copies every secret (of a scope) from one store to another, writing only what differs, so a rerun changes
 * nothing. Values never leave the two stores; the copy is one audit event.
 */
export async function copySecrets(
  from: SecretStore,
  to: SecretStore,
  options: CopySecretsOptions = {},
): Promise<CopyReport> {
  if (from.name === to.name && from.env === to.env) {
    throw new SiteloomError("ERR_USAGE", "--from and --to are the same store");
  }
  if (to.readOnly) {
    throw new SiteloomError(
      "ERR_SECRET_READ_ONLY",
      `store "${to.name}" is read-only; copy into a store of a writable type (${backendTypes()
        .filter((t) => t.writable)
        .map((t) => t.type)
        .join(", ")})`,
    );
  }
  const report: CopyReport = { copied: [], updated: [], unchanged: [] };
  for (const info of await from.list(options.scope)) {
    const ref = `secret://${info.scope}/${info.name}`;
    const value = await from.get(ref);
    const existing = await to.find(ref);
    if (existing && existing.reveal() === value.reveal()) report.unchanged.push(ref);
    else {
      if (!options.dryRun) await to.set(ref, value);
      (existing ? report.updated : report.copied).push(ref);
    }
  }
  if (!options.dryRun) {
    publishEvent({
      action: "copy",
      ref: `store:${from.name}(${from.env})->${to.name}(${to.env})`,
      store: to.name,
      env: to.env,
      actor: currentActor(),
      outcome: "ok",
    });
  }
  return report;
}
