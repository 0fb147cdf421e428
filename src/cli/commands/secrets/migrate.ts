import type { Command } from "commander";
import { SiteloomError } from "../../../errors.ts";
import type { SecretStore } from "../../../secrets/index.ts";
import type { CliContext } from "../../context.ts";
import type { StoreOpt } from "./shared.ts";

/** secrets migrate: plaintext credentials of the YAML (and a .env) into the store. */
export function registerMigrateCommand(secrets: Command, ctx: CliContext): void {
  secrets
    .command("migrate")
    .description(
      "Move plaintext credentials of siteloom.yaml / site.yaml (and a .env) into the store, rewriting the YAML",
    )
    .option("--dry-run", "show the masked diff and what would be stored")
    .option("--from-dotenv <file>", "also store the credentials of this .env file (the file is left alone)")
    .option("--store <name>", "store to write to")
    .addHelpText(
      "after",
      `\nExample:\n  siteloom secrets migrate --dry-run\n  siteloom secrets migrate --from-dotenv .env --env production\nOnly the values change in the YAML (comments and formatting stay); a backup goes to .siteloom/backups/ (0600).`,
    )
    .action(async (opts: StoreOpt & { dryRun?: boolean; fromDotenv?: string }) => {
      const { applyMigrate, askHidden, openSecretStore, planMigrate } = await import("../../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const stores = new Map<string, SecretStore>();
      const options = {
        root: ws.root,
        stateDir: ws.stateDir,
        env: ws.env,
        dryRun: Boolean(opts.dryRun),
        fromDotenv: opts.fromDotenv,
        storeFor: async (env: string) => {
          let s = stores.get(env);
          if (!s) {
            s = await openSecretStore(ws, { name: opts.store, env, askPassphrase: askHidden });
            if (s.readOnly) {
              throw new SiteloomError(
                "ERR_SECRET_READ_ONLY",
                `store "${s.name}" is read-only; migrate into a file store (--store file)`,
              );
            }
            stores.set(env, s);
          }
          return s;
        },
      };
      // plan first, then apply: the stores are opened, a passphrase asked and the values stored before the
      // configuration files' locks are taken, so no prompt waits while other processes wait for those files
      const plan = await planMigrate(options);
      const apply = () => applyMigrate(plan, options);
      const result = opts.dryRun
        ? await apply()
        : await (await import("../../record-config.ts")).writeConfigRecorded(
            ctx,
            {
              root: ws.root,
              message: "siteloom secrets migrate: plaintext credentials moved to the store",
              workspace: ws,
            },
            apply,
          );
      if (ctx.globals().json) {
        ctx.printJson({ dryRun: Boolean(opts.dryRun), ...result });
        return;
      }
      if (result.items.length === 0) {
        ctx.print("no plaintext credentials found; nothing to migrate");
        return;
      }
      for (const line of result.diff) ctx.print(line);
      for (const item of result.items) {
        const verb = opts.dryRun ? (item.action === "reused" ? "would reuse" : "would store") : item.action;
        ctx.print(`${item.where} ${item.key} → ${item.ref} (${verb} in ${item.env})`);
      }
      if (!opts.dryRun) {
        for (const f of result.files) ctx.print(`rewrote ${f.file} (backup ${f.backup})`);
        if (opts.fromDotenv)
          ctx.warn(`${opts.fromDotenv} still holds the plaintext values: delete it once the references work`);
      } else {
        ctx.info("dry run: nothing was stored or written");
      }
    });
}
