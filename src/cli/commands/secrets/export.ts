import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import type { ConfigSource, ExportFormat } from "../../../secrets/index.ts";
import type { CliContext } from "../../context.ts";
import { usageError } from "../../context.ts";
import { openStore, type StoreOpt } from "./shared.ts";

const FORMATS = ["env", "compose", "k8s", "do-app-spec"];

/** secrets export: files a container reads (env file, Compose secrets, Kubernetes Secret) or an App Platform spec. */
export function registerExportCommand(secrets: Command, ctx: CliContext): void {
  secrets
    .command("export")
    .description(
      "Write what a container needs: an env file, Compose secret files, a Kubernetes Secret (PLAINTEXT), or the secret names of an App Platform spec",
    )
    .requiredOption("--to <format>", FORMATS.join(" | "))
    .option("--scope <scope>", "only this site (or global)")
    .option("--out <path>", "file to write (a directory for compose); without it a masked preview is printed")
    .option("--store <name>", "store to read")
    .option("--spec <file>", "do-app-spec: the spec to fill (default: the .do/app.yaml shipped with siteloom)")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom secrets export --to env --scope shop --out shop.env --env production\n  siteloom secrets export --to compose --out ./secrets\n  siteloom secrets export --to k8s --out secret.yaml\n  siteloom secrets export --to do-app-spec --env staging --out app.staging.yaml   # names only, never values`,
    )
    .action(async (opts: StoreOpt & { to: string; scope?: string; out?: string; spec?: string }) => {
      if (!FORMATS.includes(opts.to)) usageError(`--to must be ${FORMATS.join(", ")} (got "${opts.to}")`);
      if (opts.to === "do-app-spec") return _exportAppSpec(ctx, opts);
      const { exportSecrets, writeExport } = await import("../../../secrets/index.ts");
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

// --- internal ---

/** The App Platform spec of the active environment, its SECRET variables named from the workspace's references. */
async function _exportAppSpec(ctx: CliContext, opts: { scope?: string; out?: string; spec?: string }): Promise<void> {
  const [{ collectSpecVariables, fillAppSpec }, { findPackageRoot }, { writeFileAtomic }] = await Promise.all([
    import("../../../secrets/index.ts"),
    import("../../../package-info.ts"),
    import("../../../files.ts"),
  ]);
  const ws = await ctx.loadWorkspace();
  const sites = opts.scope && opts.scope !== "global" ? [opts.scope] : opts.scope ? [] : ws.sites;
  const sources: ConfigSource[] = [{ config: ws.config }];
  for (const name of sites) sources.push({ site: name, config: (await ws.site(name)).config });
  const found = collectSpecVariables(sources);
  const specFile = opts.spec ?? join(findPackageRoot(), ".do", "app.yaml");
  let text: string;
  try {
    text = await readFile(specFile, "utf8");
  } catch (error) {
    usageError(
      `cannot read the app spec ${specFile} (${(error as NodeJS.ErrnoException).code ?? "error"}): pass --spec FILE`,
    );
  }
  const filled = fillAppSpec(text!, ws.env, found.variables);
  for (const line of found.skipped) ctx.warn(`left out: ${line}`);
  if (opts.out) await writeFileAtomic(opts.out, filled.text, { mode: 0o644 });
  if (ctx.globals().json) {
    ctx.printJson({
      env: ws.env,
      app: filled.name,
      variables: found.variables,
      added: filled.added,
      kept: filled.kept,
      skipped: found.skipped,
      ...(opts.out ? { written: opts.out } : { spec: filled.text }),
    });
    return;
  }
  if (!opts.out) {
    ctx.print(filled.text.replace(/\n$/, ""));
    return;
  }
  ctx.print(
    `wrote ${opts.out}: app ${filled.name}, ${filled.added.length} SECRET variable${filled.added.length === 1 ? "" : "s"} added, ${filled.kept.length} kept (names only; set the values in DigitalOcean)`,
  );
}
