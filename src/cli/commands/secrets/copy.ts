import type { Command } from "commander";
import type { CliContext } from "../../context.ts";
import { askNewPassphrase } from "./shared.ts";

/** secrets copy: between stores or environments. */
export function registerCopyCommand(secrets: Command, ctx: CliContext): void {
  secrets
    .command("copy")
    .description("Copy secrets between two configured stores (idempotent; never prints values)")
    .requiredOption("--from <store>", "source store")
    .requiredOption("--to <store>", "target store")
    .option("--from-env <env>", "environment of the source (default: --env)")
    .option("--to-env <env>", "environment of the target (default: --env)")
    .option("--scope <scope>", "only this site (or global)")
    .option("--dry-run", "show what would be copied")
    .addHelpText(
      "after",
      `\nExample:\n  siteloom secrets copy --from file --to team --scope shop --dry-run\n  siteloom secrets copy --from file --to file --from-env staging --to-env production --scope shop`,
    )
    .action(
      async (opts: {
        from: string;
        to: string;
        fromEnv?: string;
        toEnv?: string;
        scope?: string;
        dryRun?: boolean;
      }) => {
        const { askHidden, copySecrets, openSecretStore } = await import("../../../secrets/index.ts");
        const ws = await ctx.loadWorkspace();
        const from = await openSecretStore(ws, {
          name: opts.from,
          env: opts.fromEnv ?? ws.env,
          askPassphrase: askHidden,
        });
        const to = await openSecretStore(ws, {
          name: opts.to,
          env: opts.toEnv ?? ws.env,
          askPassphrase: askNewPassphrase(),
        });
        const report = await copySecrets(from, to, { scope: opts.scope, dryRun: opts.dryRun });
        if (ctx.globals().json) {
          ctx.printJson({
            from: `${from.name} (${from.env})`,
            to: `${to.name} (${to.env})`,
            dryRun: Boolean(opts.dryRun),
            ...report,
          });
          return;
        }
        const verb = opts.dryRun ? "would copy" : "copied";
        for (const r of report.copied) ctx.print(`${verb} ${r}`);
        for (const r of report.updated) ctx.print(`${opts.dryRun ? "would update" : "updated"} ${r}`);
        ctx.print(
          `${from.name} (${from.env}) → ${to.name} (${to.env}): ${report.copied.length} ${verb}, ${report.updated.length} ${opts.dryRun ? "would be updated" : "updated"}, ${report.unchanged.length} unchanged`,
        );
      },
    );
}
