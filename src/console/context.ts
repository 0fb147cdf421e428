import type { EventEmitter } from "node:events";
import type { FastifyRequest } from "fastify";
import { requestEnv, requireSite } from "../server/access.ts";
import type { ConfigRuntime } from "../server/runtime.ts";
import type { StateStore } from "../store/index.ts";
import type { TokenStore } from "../tokens/index.ts";
import { loadWorkspace, type SiteContext, type Workspace } from "../workspace/index.ts";
import type { SessionStore } from "./sessions.ts";

/** What every console route gets. */
export interface ConsoleContext {
  root: string;
  stateDir: string;
  runtime: ConfigRuntime;
  store: StateStore;
  tokens: TokenStore;
  sessions: SessionStore;
  vars: Record<string, string | undefined>;
  /** Emits `event` with every pipeline event of the runs this server starts. */
  runEvents: EventEmitter;
  /** Writes an audit entry for routes without `config.access` (sign-in). */
  audit(entry: { actor: string; action: string; outcome: "ok" | "denied" | "error"; source: string }): Promise<void>;
}

/**
 * The workspace as a request's environment sees it (the `env` query parameter, checked against the token), with
 * one site loaded when `site` is given. Credentials stay references: nothing here resolves a secret.
 */
export async function loadRequestSite(
  ctx: ConsoleContext,
  request: FastifyRequest,
  site: string,
  env?: string,
): Promise<{ workspace: Workspace; site: SiteContext }> {
  const snapshot = ctx.runtime.current();
  const name = requestEnv(request, snapshot, env);
  requireSite(snapshot, site);
  const workspace = await loadWorkspace({ workspace: ctx.root, env: name, vars: ctx.vars });
  return { workspace, site: await workspace.site(site) };
}
