import { type CredentialUse, isReference, type SecretResolver } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import type { Secret } from "../secret.ts";
import { findPlaintextCredentials, type PlaintextFinding } from "./plaintext.ts";
import type { OpenStoreOptions, SecretsWorkspace } from "./registry.ts";
import { createSecretResolver } from "./resolver.ts";

export type WorkspaceSecretsOptions = Omit<OpenStoreOptions, "name" | "env">;

/**
 * The `secrets` option of `loadWorkspace`: a factory that, given the loaded workspace, returns the resolver of its
 * default store (which store is itself configuration, so it is chosen once the workspace is loaded).
 */
export function workspaceSecrets(
  options: WorkspaceSecretsOptions = {},
): (workspace: SecretsWorkspace) => SecretResolver {
  return (workspace) => createSecretResolver(workspace, options);
}

/** A loaded workspace as `guardPlaintext` sees it. */
export interface ResolvingWorkspace extends SecretsWorkspace {
  resolve(value: string, use: CredentialUse): Promise<Secret>;
}

export interface GuardPlaintextOptions {
  warn: (line: string) => void;
}

/**
 * Wraps `workspace.resolve` so that a credential written in plain text keeps working with a warning naming the
 * file:line and the migrate command, and is refused in `production` unless `secrets.allowPlaintext: true`.
 */
export function guardPlaintext<W extends ResolvingWorkspace>(workspace: W, options: GuardPlaintextOptions): W {
  const inner = workspace.resolve.bind(workspace);
  let findings: Promise<PlaintextFinding[]> | undefined;
  const warned = new Set<string>();
  workspace.resolve = async (value, use) => {
    if (!isReference(value)) {
      findings ??= findPlaintextCredentials(workspace.root).catch(() => []);
      const found = (await findings).find((f) => f.value.reveal() === value);
      const where = found
        ? `${found.file}:${found.line} (${found.path.join(".")})`
        : use.site
          ? `${use.field} of site ${use.site}`
          : use.field;
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
    return inner(value, use);
  };
  return workspace;
}
