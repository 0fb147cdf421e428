import { attachAuditLog } from "../audit/index.ts";
import { isReference, type SecretResolver } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import type { Workspace } from "../workspace/index.ts";
import { findPlaintextCredentials, type PlaintextFinding } from "./plaintext.ts";
import { auditLogPath, type OpenStoreOptions, type SecretsWorkspace } from "./registry.ts";
import { createSecretResolver } from "./resolver.ts";

export interface WorkspaceSecretsOptions extends Omit<OpenStoreOptions, "name" | "env"> {
  /** Where audit and plaintext warnings go. */
  warn?: (line: string) => void;
}

const attached = new Set<string>();

/**
 * Starts the audit log of a workspace for this process (once per log file): every secret access published on the
 * diagnostics channel from now on is appended to `.siteloom/audit.log`.
 */
export function startAudit(workspace: Pick<Workspace, "stateDir">, warn?: (line: string) => void): void {
  const file = auditLogPath(workspace);
  if (attached.has(file)) return;
  attached.add(file);
  attachAuditLog(file, (error) => warn?.(`could not write the audit log ${file}: ${(error as Error).message}`));
}

/**
 * The `secrets` option of `loadWorkspace`: a factory that, given the loaded workspace, starts its audit log and
 * returns the resolver of its default store.
 */
export function workspaceSecrets(
  options: WorkspaceSecretsOptions = {},
): (workspace: SecretsWorkspace & Pick<Workspace, "stateDir">) => SecretResolver {
  return (workspace) => {
    startAudit(workspace, options.warn);
    return createSecretResolver(workspace, options);
  };
}

export interface GuardPlaintextOptions {
  warn: (line: string) => void;
}

/**
 * Wraps `workspace.resolve` so that a credential written in plain text keeps working with a warning naming the
 * file:line and the migrate command, and is refused in `production` unless `secrets.allowPlaintext: true`.
 */
export function guardPlaintext<W extends Workspace>(workspace: W, options: GuardPlaintextOptions): W {
  const inner = workspace.resolve.bind(workspace);
  let findings: Promise<PlaintextFinding[]> | undefined;
  const warned = new Set<string>();
  workspace.resolve = async (value, origin) => {
    if (!isReference(value)) {
      findings ??= findPlaintextCredentials(workspace.root).catch(() => []);
      const found = (await findings).find((f) => f.value.reveal() === value);
      const where = found ? `${found.file}:${found.line} (${found.path.join(".")})` : (origin ?? "the configuration");
      if (workspace.env === "production" && !workspace.config.secrets.allowPlaintext) {
        throw new SiteloomError(
          "ERR_CONFIG_INVALID",
          `plaintext credential in ${where} is refused in production: move it into the secret store with siteloom secrets migrate --env production (or set secrets.allowPlaintext: true)`,
        );
      }
      if (!warned.has(where)) {
        warned.add(where);
        options.warn(
          `plaintext credential in ${where}; move it into the secret store with siteloom secrets migrate --env ${workspace.env}`,
        );
      }
    }
    return inner(value, origin);
  };
  return workspace;
}
