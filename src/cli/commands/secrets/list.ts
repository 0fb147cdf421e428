import type { Command } from "commander";
import type { CliContext } from "../../context.ts";
import { printTable } from "../../table.ts";
import { openStore, type StoreOpt } from "./shared.ts";

/** secrets list | history: what is stored, never values. */
export function registerListCommands(secrets: Command, ctx: CliContext): void {
  secrets
    .command("list")
    .description("List secrets: names, scope, store, version and dates — never values")
    .option("--scope <scope>", "only this site (or global)")
    .option("--store <name>", "store to list")
    .addHelpText("after", `\nExample:\n  siteloom secrets list --scope shop --json`)
    .action(async (opts: StoreOpt & { scope?: string }) => {
      const { ws, store } = await openStore(ctx, opts);
      const items = await store.list(opts.scope);
      if (ctx.globals().json) {
        ctx.printJson(
          items.map((i) => ({ ref: `secret://${i.scope}/${i.name}`, ...i, store: store.name, env: ws.env })),
        );
        return;
      }
      if (items.length === 0) {
        ctx.info(`no secrets in store "${store.name}" (${ws.env})${opts.scope ? ` for scope ${opts.scope}` : ""}`);
        return;
      }
      printTable(
        ctx,
        ["NAME", "SCOPE", "STORE", "VERSION", "UPDATED"],
        items.map((i) => [i.name, i.scope, store.name, String(i.version), i.updatedAt ?? i.source ?? ""]),
      );
    });

  secrets
    .command("history <ref>")
    .description("List the kept versions of a secret (dates and actors, never values)")
    .option("--store <name>", "store to read")
    .addHelpText("after", `\nExample:\n  siteloom secrets history shop/FTP_PASSWORD`)
    .action(async (ref: string, opts: StoreOpt) => {
      const { store } = await openStore(ctx, opts);
      const versions = await store.history(ref);
      if (ctx.globals().json) {
        ctx.printJson(versions);
        return;
      }
      const current = versions.at(-1)?.version;
      printTable(
        ctx,
        ["VERSION", "CREATED", "ACTOR", "NOTE"],
        versions.map((v) => [
          String(v.version),
          v.createdAt,
          v.actor,
          [v.version === current ? "current" : "", v.rolledBackFrom ? `rollback of ${v.rolledBackFrom}` : ""]
            .filter(Boolean)
            .join(", "),
        ]),
      );
    });
}
