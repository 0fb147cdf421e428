import type { Origin } from "../../config/index.ts";
import { SiteloomError } from "../../errors.ts";
import type { EnvSource } from "../../workspace/index.ts";
import { parseSetFlags, type RegisterCommands } from "../context.ts";

/** config show|validate|push|schema */
export const registerConfigCommands: RegisterCommands = (program, ctx) => {
  const config = program
    .command("config")
    .description("Show the resolved configuration, validate every file, print the JSON Schema")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom config show --site shop --origin
  $ siteloom config validate
  $ siteloom config schema > siteloom.schema.json`,
    );

  config
    .command("show")
    .description("Print the resolved configuration (all layers merged, credentials masked) and the environment")
    .option("-s, --site <name>", "one site's configuration (default: the workspace's own)")
    .option("--origin", "show which layer and file:line (or variable, or flag) set each value")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom config show --site shop
  $ siteloom config show --site shop --env production --origin
  $ SITELOOM_DEPLOY__PARALLEL=2 siteloom config show --site shop --origin --json

Credentials show as their reference (secret://shop/FTP_PASSWORD, \${VAR}) and are never resolved here; a plaintext
credential shows as ****. The global --env chooses the environment.`,
    )
    .action(async (opts: { site?: string; origin?: boolean }) => {
      const workspace = await ctx.loadWorkspace();
      const target = opts.site ? await workspace.site(opts.site) : undefined;
      const [{ formatOrigin, maskCredentials }, { stringify }] = await Promise.all([
        import("../../config/index.ts"),
        import("yaml"),
      ]);
      const resolved = maskCredentials(target ? target.config : workspace.config);
      const origins = target ? target.origins : workspace.origins;
      if (ctx.globals().json) {
        ctx.printJson({
          environment: workspace.env,
          environmentSource: workspace.envSource,
          site: opts.site ?? null,
          config: resolved,
          ...(opts.origin ? { origins: Object.fromEntries(origins) } : {}),
        });
        return;
      }
      const c = ctx.color;
      ctx.print(c.dim(`# environment: ${workspace.env} (${_envSourceText(workspace.envSource)})`));
      ctx.print(c.dim(`# ${opts.site ? `site: ${opts.site}` : "workspace (no site layer)"}`));
      if (!opts.origin) {
        ctx.print(stringify(resolved, { lineWidth: 0 }).trimEnd());
        return;
      }
      const rows = _flatten(resolved).map(([path, value]) => [
        path,
        value,
        _originText(origins.get(path), formatOrigin),
      ]);
      const w0 = Math.max(...rows.map((r) => r[0]!.length));
      const w1 = Math.min(40, Math.max(...rows.map((r) => r[1]!.length)));
      for (const [path, value, origin] of rows) {
        ctx.print(`${path!.padEnd(w0)}  ${value!.padEnd(w1)}  ${c.dim(origin!)}`);
      }
    });

  config
    .command("validate")
    .description("Check siteloom.yaml and every site in every environment; print ALL problems as file:line:col")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom config validate
  $ siteloom config validate --env production      # only that environment
  $ siteloom config validate --json

Each problem is one line:  sites/shop/site.yaml:7:9 remote.port: expected a number, got "twenty-one"
Exit codes: 0 valid, 3 invalid configuration.`,
    )
    .action(async () => {
      const g = ctx.globals();
      const [{ formatProblem }, { validateWorkspace }] = await Promise.all([
        import("../../config/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      const report = await validateWorkspace({
        workspace: g.workspace,
        env: g.env,
        flags: await parseSetFlags(g.set ?? []),
      });
      const valid = report.problems.length === 0;
      const scope = `${report.sites.length} site${report.sites.length === 1 ? "" : "s"}, environments ${report.environments.join(", ")}`;
      if (g.json) {
        ctx.printJson({
          valid,
          root: report.root,
          environments: report.environments,
          sites: report.sites,
          problems: report.problems.map((p) => ({ ...p, text: formatProblem(p) })),
        });
      } else if (valid) {
        ctx.print(`${ctx.color.green("valid")}: siteloom.yaml and ${scope}`);
      } else {
        for (const problem of report.problems) ctx.print(formatProblem(problem));
      }
      if (valid) return;
      // the problems are printed above: the error is their count, and program.ts makes it exit code 3
      const files = new Set(report.problems.map((p) => p.file)).size;
      const n = report.problems.length;
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `invalid configuration: ${n} problem${n === 1 ? "" : "s"} in ${files} source${files === 1 ? "" : "s"} (checked siteloom.yaml and ${scope})`,
      );
    });

  config
    .command("push")
    .description(
      "Record the configuration files as a new version in the state store, which every server and worker follows",
    )
    .option("-m, --message <text>", "what changed, kept with the version", "edit recorded by siteloom config push")
    .addHelpText(
      "after",
      `
Examples:
  $ vi sites/shop/site.yaml && siteloom config push -m "shop: deploy.parallel 4"
  $ siteloom config push --json

The files (siteloom.yaml and every sites/<name>/site.yaml) are validated in every environment first; nothing is
recorded when they are invalid (exit code 3) or equal to the latest version. With a PostgreSQL state store every
siteloom serve and siteloom worker writes the new version into its own files within a second (LISTEN/NOTIFY).`,
    )
    .action(async (opts: { message: string }) => {
      const workspace = await ctx.loadWorkspace();
      const [{ pushConfigFiles }, { openWorkspaceStore }] = await Promise.all([
        import("../../server/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      const store = openWorkspaceStore(workspace);
      try {
        const pushed = await pushConfigFiles({ root: workspace.root, store, message: opts.message });
        if (ctx.globals().json) return ctx.printJson(pushed);
        ctx.print(
          pushed.recorded
            ? `recorded configuration version ${pushed.version} (${pushed.files.join(", ")})`
            : `unchanged: the files are configuration version ${pushed.version}`,
        );
      } finally {
        await store.close();
      }
    });

  config
    .command("schema")
    .description("Print the JSON Schema of siteloom.yaml (or of site.yaml) for editors and CI")
    .option("--site", "the schema of sites/<name>/site.yaml instead of siteloom.yaml")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom config schema > siteloom.schema.json
  $ siteloom config schema --site > site.schema.json

The package ships both in schema/; siteloom init points the file's yaml-language-server line at them.`,
    )
    .action(async (opts: { site?: boolean }) => {
      const { generateJsonSchemas } = await import("../../config/index.ts");
      const schemas = generateJsonSchemas();
      ctx.printJson(opts.site ? schemas["site.schema.json"] : schemas["siteloom.schema.json"]);
    });
};

// --- internal ---

function _envSourceText(source: EnvSource): string {
  switch (source) {
    case "flag":
      return "from --env";
    case "variable":
      return "from SITELOOM_ENV";
    case "file":
      return "from environment: in siteloom.yaml";
    default:
      return "default";
  }
}

function _originText(origin: Origin | undefined, formatOrigin: (origin: Origin) => string): string {
  return origin ? formatOrigin(origin) : "defaults";
}

function _flatten(value: unknown, path: string[] = []): [string, string][] {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([key, child]) => _flatten(child, [...path, key]));
  }
  return [[path.join("."), JSON.stringify(value)]];
}
