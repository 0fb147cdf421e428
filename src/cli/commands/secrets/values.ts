import type { Command } from "commander";
import { MASK } from "../../../secret.ts";
import type { CliContext } from "../../context.ts";
import { usageError } from "../../context.ts";
import { done, openStore, type StoreOpt } from "./shared.ts";

/** secrets set | get | remove | rotate | rollback: one secret's value. */
export function registerValueCommands(secrets: Command, ctx: CliContext): void {
  secrets
    .command("set <ref>")
    .description(
      "Store a secret (a new version if it exists); the value comes from a hidden prompt, --stdin or --from-file",
    )
    .option("--stdin", "read the value from standard input (one trailing newline removed)")
    .option("--from-file <file>", "read the value from a file (one trailing newline removed)")
    .option("--store <name>", "store to write to")
    .addHelpText(
      "after",
      `
Examples:
  siteloom secrets set shop/FTP_PASSWORD                 (asks, without echo)
  printf %s "$PW" | siteloom secrets set shop/FTP_PASSWORD --stdin --env production
Values are never taken from arguments: they would end up in shell history and process lists.`,
    )
    .action(async (ref: string, opts: StoreOpt & { stdin?: boolean; fromFile?: string }) => {
      const [{ readSecretValue }, { parseSecretReference }] = await Promise.all([
        import("../../../secrets/index.ts"),
        import("../../../config/index.ts"),
      ]);
      const parsed = parseSecretReference(ref);
      const { ws, store } = await openStore(ctx, opts);
      const value = await readSecretValue({ stdin: opts.stdin, fromFile: opts.fromFile, label: parsed.raw });
      const version = await store.set(parsed.raw, value);
      done(
        ctx,
        { ref: parsed.raw, store: store.name, env: ws.env, version },
        `set ${parsed.raw} (version ${version}) in store "${store.name}" (${ws.env})`,
      );
    });

  secrets
    .command("get <ref>")
    .description("Show a secret: **** unless --reveal (which is audited)")
    .option("--reveal", "print the plain value")
    .option("--store <name>", "store to read from")
    .addHelpText("after", `\nExample:\n  siteloom secrets get secret://shop/FTP_PASSWORD --reveal --env production`)
    .action(async (ref: string, opts: StoreOpt & { reveal?: boolean }) => {
      const { parseSecretReference } = await import("../../../config/index.ts");
      const { ws, store } = await openStore(ctx, opts);
      const secret = opts.reveal ? await store.reveal(ref) : await store.get(ref);
      const parsed = parseSecretReference(ref);
      if (ctx.globals().json) {
        const doc = { ref: parsed.raw, store: store.name, env: ws.env, value: opts.reveal ? secret.reveal() : MASK };
        // the one place a value is written on purpose: bypass the masking printer
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else if (opts.reveal) {
        process.stdout.write(`${secret.reveal()}\n`);
      } else {
        ctx.print(`${parsed.raw} = **** (store "${store.name}", ${ws.env}; --reveal to show)`);
      }
    });

  secrets
    .command("remove <ref>")
    .alias("rm")
    .description("Delete a secret and its history")
    .option("--store <name>", "store to delete from")
    .addHelpText("after", `\nExample:\n  siteloom secrets remove shop/OLD_TOKEN`)
    .action(async (ref: string, opts: StoreOpt) => {
      const { parseSecretReference } = await import("../../../config/index.ts");
      const { ws, store } = await openStore(ctx, opts);
      const what = await store.delete(ref);
      const raw = parseSecretReference(ref).raw;
      done(
        ctx,
        { ref: raw, store: store.name, env: ws.env, removed: true, detail: what },
        `removed ${raw} from store "${store.name}" (${ws.env}): ${what}`,
      );
    });

  secrets
    .command("rotate <ref>")
    .description("Replace a secret's value, keeping the previous versions")
    .option("--stdin", "read the new value from standard input")
    .option("--from-file <file>", "read the new value from a file")
    .option("--generate [length]", "generate a random value (default 32 characters)")
    .option("--store <name>", "store to write to")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom secrets rotate shop/FTP_PASSWORD --stdin < new-password.txt\n  siteloom secrets rotate global/API_TOKEN --generate 40`,
    )
    .action(async (ref: string, opts: StoreOpt & { stdin?: boolean; fromFile?: string; generate?: string | true }) => {
      const [{ generateSecretValue, readSecretValue }, { parseSecretReference }] = await Promise.all([
        import("../../../secrets/index.ts"),
        import("../../../config/index.ts"),
      ]);
      const parsed = parseSecretReference(ref);
      const { ws, store } = await openStore(ctx, opts);
      const value =
        opts.generate !== undefined
          ? generateSecretValue(opts.generate === true ? 32 : Number(opts.generate))
          : await readSecretValue({ stdin: opts.stdin, fromFile: opts.fromFile, label: parsed.raw });
      const version = await store.rotate(parsed.raw, value);
      done(
        ctx,
        { ref: parsed.raw, store: store.name, env: ws.env, version },
        `rotated ${parsed.raw} to version ${version} in store "${store.name}" (${ws.env})`,
      );
    });

  secrets
    .command("rollback <ref> <version>")
    .description("Restore an old version as the new current version")
    .option("--store <name>", "store to write to")
    .addHelpText("after", `\nExample:\n  siteloom secrets rollback shop/FTP_PASSWORD 3`)
    .action(async (ref: string, version: string, opts: StoreOpt) => {
      const { parseSecretReference } = await import("../../../config/index.ts");
      if (!/^[1-9][0-9]*$/.test(version)) usageError(`version must be a positive whole number, got "${version}"`);
      const { ws, store } = await openStore(ctx, opts);
      const raw = parseSecretReference(ref).raw;
      const next = await store.rollback(raw, Number(version));
      done(
        ctx,
        { ref: raw, store: store.name, env: ws.env, version: next, from: Number(version) },
        `restored version ${version} of ${raw} as version ${next}`,
      );
    });
}
