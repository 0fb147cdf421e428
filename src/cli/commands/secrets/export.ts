import type { Command } from "commander";
import type { ExportFormat } from "../../../secrets/index.ts";
import type { CliContext } from "../../context.ts";
import { usageError } from "../../context.ts";
import { openStore, type StoreOpt } from "./shared.ts";

/** secrets export: files a container reads (env file, Compose secrets, Kubernetes Secret). */
export function registerExportCommand(secrets: Command, ctx: CliContext): void {
  secrets
    .command("export")
    .description("Write what a container needs: an env file, Compose secret files, or a Kubernetes Secret (PLAINTEXT)")
    .requiredOption("--to <format>", "env | compose | k8s")
    .option("--scope <scope>", "only this site (or global)")
    .option("--out <path>", "file to write (a directory for compose); without it a masked preview is printed")
    .option("--store <name>", "store to read")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom secrets export --to env --scope shop --out shop.env --env production\n  siteloom secrets export --to compose --out ./secrets\n  siteloom secrets export --to k8s --out secret.yaml`,
    )
    .action(async (opts: StoreOpt & { to: string; scope?: string; out?: string }) => {
      const { exportSecrets, writeExport } = await import("../../../secrets/index.ts");
      if (!["env", "compose", "k8s"].includes(opts.to))
        usageError(`--to must be env, compose or k8s (got "${opts.to}")`);
      const { ws, store } = await openStore(ctx, opts);
      const files = await exportSecrets(store, { format: opts.to as ExportFormat, scope: opts.scope });
      if (!opts.out) {
        for (const f of files) {
          if (files.length > 1) ctx.print(`# --- ${f.name}`);
          // ctx.print masks every loaded value: this is a preview of the layout only
          for (const line of f.content.replace(/\n$/, "").split("\n")) ctx.print(line);
        }
        ctx.warn("values are masked in this preview; pass --out to write the files (they hold PLAINTEXT secrets)");
        return;
      }
      const written = await writeExport(files, opts.to as ExportFormat, opts.out);
      ctx.warn(
        `${written.join(", ")} hold${written.length === 1 ? "s" : ""} PLAINTEXT secrets (mode 0600): keep out of git, delete after use`,
      );
      if (ctx.globals().json) ctx.printJson({ written, format: opts.to, store: store.name, env: ws.env });
      else for (const w of written) ctx.print(`wrote ${w}`);
    });
}
