import type { Command } from "commander";
import type { CliContext } from "../../context.ts";
import { openStore, type StoreOpt } from "./shared.ts";

/** secrets recipients [add|remove]: who can decrypt a file store. */
export function registerRecipientsCommands(secrets: Command, ctx: CliContext): void {
  const recipients = secrets
    .command("recipients")
    .description("List the age public keys the file store is encrypted to")
    .option("--store <name>", "file store")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom secrets recipients --env production\n  siteloom secrets recipients add age1... --env production   (a teammate or a CI machine)`,
    )
    .action(async (opts: StoreOpt) => {
      const { storeRecipients } = await import("../../../secrets/index.ts");
      const { store } = await openStore(ctx, opts);
      const list = await storeRecipients(store);
      if (ctx.globals().json) ctx.printJson(list);
      else for (const r of list) ctx.print(r);
    });
  for (const verb of ["add", "remove"] as const) {
    recipients
      .command(`${verb} <recipients...>`)
      .description(
        verb === "add" ? "Add recipients and re-encrypt the store" : "Remove recipients and re-encrypt the store",
      )
      .option("--store <name>", "file store")
      .addHelpText(
        "after",
        `\nExample:\n  siteloom secrets recipients ${verb} age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq`,
      )
      .action(async (list: string[], opts: StoreOpt) => {
        const { updateStoreRecipients } = await import("../../../secrets/index.ts");
        const { ws, store } = await openStore(ctx, { ...recipients.opts<StoreOpt>(), ...opts });
        const now = await updateStoreRecipients(store, verb === "add" ? { add: list } : { remove: list });
        ctx.print(`${store.name} (${ws.env}) re-encrypted to ${now.length} recipient${now.length === 1 ? "" : "s"}`);
        if (verb === "remove")
          ctx.warn("a removed key may still hold old copies of the store: rotate the secrets it could read");
      });
  }
}
