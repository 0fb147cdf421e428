import type { Command } from "commander";
import type { CliContext } from "../../context.ts";
import { printTable } from "../../table.ts";
import { rel } from "./shared.ts";

/** secrets backend [use <name>]: the configured stores and the default one. */
export function registerBackendCommands(secrets: Command, ctx: CliContext): void {
  const backendCmd = secrets
    .command("backend")
    .description("Show the configured stores, which one is the default, and the backend types available")
    .addHelpText("after", `\nExample:\n  siteloom secrets backend\n  siteloom secrets backend use env`)
    .action(async () => {
      const { backendTypes, defaultStoreName, describeSecretStores } = await import("../../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const rows = (await describeSecretStores(ws)).map((r) => ({ ...r, where: rel(ws, r.where) }));
      if (ctx.globals().json) {
        ctx.printJson({ env: ws.env, default: defaultStoreName(ws), stores: rows, types: backendTypes() });
        return;
      }
      printTable(
        ctx,
        ["", "STORE", "TYPE", "WHERE"],
        rows.map((r) => [r.default ? "*" : "", r.name, r.type, r.where]),
      );
      ctx.print("");
      printTable(
        ctx,
        ["TYPE", "", "DESCRIPTION"],
        backendTypes().map((t) => [
          t.type,
          t.writable ? "rw" : "ro",
          `${t.summary}${t.packages
            .filter((p) => !p.installed)
            .map((p) => `; needs npm install ${p.name}@${p.version}`)
            .join("")}`,
        ]),
      );
      if (process.env.SITELOOM_SECRETS_BACKEND)
        ctx.info(`(default chosen by SITELOOM_SECRETS_BACKEND=${process.env.SITELOOM_SECRETS_BACKEND})`);
    });
  backendCmd
    .command("use <name>")
    .description("Make a store the default (writes secrets.backend in siteloom.yaml)")
    .addHelpText("after", `\nExample:\n  siteloom secrets backend use env`)
    .action(async (name: string) => {
      const { useSecretStore } = await import("../../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const { file } = await (await import("../../record-config.ts")).writeConfigRecorded(
        ctx,
        { root: ws.root, message: `siteloom secrets backend use ${name}`, workspace: ws },
        () => useSecretStore(ws, name),
      );
      ctx.print(`default store is now "${name}" (secrets.backend in ${file})`);
    });
}
