import { channel } from "node:diagnostics_channel";
import { userInfo } from "node:os";
import type { SecretEvent } from "./types.ts";

/** Name of the diagnostics channel every secret access is published on (the audit log subscribes to it). */
export const SECRETS_CHANNEL = "siteloom:secrets";

const secretsChannel = channel(SECRETS_CHANNEL);

/** Publishes an access. Events carry references and outcomes, never values. */
export function publishSecretEvent(event: SecretEvent): void {
  if (secretsChannel.hasSubscribers) secretsChannel.publish(event);
}

/** Who is acting: SITELOOM_ACTOR (CI, API token names later), else the OS user. */
export function currentActor(vars: Record<string, string | undefined> = process.env): string {
  if (vars.SITELOOM_ACTOR) return vars.SITELOOM_ACTOR;
  try {
    return userInfo().username;
  } catch {
    return vars.USER ?? "unknown";
  }
}

/** Records a configuration change made by siteloom (any command that rewrites siteloom.yaml or a site.yaml). */
export function publishConfigChange(change: { file: string; env: string; detail?: string; actor?: string }): void {
  publishSecretEvent({
    action: "config.write",
    ref: change.detail ? `${change.file}#${change.detail}` : change.file,
    store: "-",
    env: change.env,
    actor: change.actor ?? currentActor(),
    outcome: "ok",
  });
}
