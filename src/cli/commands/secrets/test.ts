import type { Command } from "commander";
import { SiteloomError } from "../../../errors.ts";
import type { Workspace } from "../../../workspace/index.ts";
import type { CliContext } from "../../context.ts";
import { rel } from "./shared.ts";

/** secrets test [site]: unlock every store, and log in to a site's host with its credentials. */
export function registerTestCommand(secrets: Command, ctx: CliContext): void {
  secrets
    .command("test [site]")
    .description("Unlock every store; with a site, resolve its credentials and log in to its host")
    .addHelpText("after", `\nExamples:\n  siteloom secrets test\n  siteloom secrets test shop --env production`)
    .action(async (site: string | undefined) => {
      const { askHidden, testSecretStores } = await import("../../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const checks = await testSecretStores(ws, { askPassphrase: askHidden });
      const results = checks.map((c) => ({ store: c.store, ok: c.ok, message: c.ok ? rel(ws, c.message) : c.message }));
      let login: { site: string; ok: boolean; message: string } | undefined;
      if (site) login = await _testSite(ctx, ws, site);
      if (ctx.globals().json) ctx.printJson({ env: ws.env, stores: results, ...(login ? { login } : {}) });
      else {
        for (const [i, r] of results.entries())
          ctx.print(`${r.ok ? "ok  " : "FAIL"} ${r.store}${checks[i]!.default ? " (default)" : ""}: ${r.message}`);
        if (login) ctx.print(`${login.ok ? "ok  " : "FAIL"} ${login.site}: ${login.message}`);
      }
      const failedDefault = checks.find((c) => c.default && !c.ok);
      if (failedDefault) {
        throw new SiteloomError("ERR_SECRET_BACKEND", `the default store "${failedDefault.store}" cannot be opened`);
      }
      if (login && !login.ok) {
        throw new SiteloomError("ERR_SECRET_BACKEND", `${login.site}: the credentials did not log in to its host`);
      }
    });
}

// --- internal ---

async function _testSite(
  ctx: CliContext,
  ws: Workspace,
  name: string,
): Promise<{ site: string; ok: boolean; message: string }> {
  const site = await ws.site(name);
  const remote = site.config.remote;
  try {
    const { createRemote } = await import("../../../transfer/index.ts");
    const fs = await createRemote(remote, (value, field) => ws.resolve(value, { field, site: name }), {
      warn: (m) => ctx.warn(m),
    });
    try {
      await fs.list("");
    } finally {
      await fs.close();
    }
    const who = remote.user ? `${remote.user}@` : "";
    return {
      site: name,
      ok: true,
      message: `logged in to ${remote.protocol}://${who}${remote.host ?? "(local)"} and listed ${remote.root}`,
    };
  } catch (error) {
    return { site: name, ok: false, message: (error as Error).message };
  }
}
