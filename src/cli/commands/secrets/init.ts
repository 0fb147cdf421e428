import type { Command } from "commander";
import type { CliContext } from "../../context.ts";
import { askNewPassphrase, type StoreOpt } from "./shared.ts";

/** secrets init: identity and store of the environment. */
export function registerInitCommand(secrets: Command, ctx: CliContext): void {
  secrets
    .command("init")
    .description("Create the identity (private key, kept in your config directory) and the store of the environment")
    .option("--store <name>", "store to initialise (default: the configured default)")
    .addHelpText(
      "after",
      `
Example:
  siteloom secrets init --env production
The key goes to $XDG_CONFIG_HOME/siteloom/ (mode 0600); in CI set SITELOOM_AGE_IDENTITY instead.`,
    )
    .action(async (opts: StoreOpt) => {
      const { initSecretStore } = await import("../../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const result = await initSecretStore(ws, { name: opts.store, askPassphrase: askNewPassphrase() });
      const { store, env, path, created, identity } = result;
      if (ctx.globals().json) {
        ctx.printJson({ store, env, path, created });
        return;
      }
      if (identity) {
        ctx.print(
          identity.created
            ? `created identity ${identity.source} (keep it safe; without it the store cannot be opened)`
            : `using identity ${identity.source}`,
        );
        ctx.print(`public key: ${identity.recipients.join(", ")}`);
      }
      ctx.print(created ? `created store ${path} (${env})` : `store ${path} (${env}) already exists and opens`);
      ctx.info(
        `recovery without siteloom: age -d -i ${result.passphrase ? "(passphrase)" : "<identity file>"} ${path} (the content is JSON)`,
      );
    });
}
