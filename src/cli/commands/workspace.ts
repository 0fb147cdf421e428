import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { Option } from "commander";
import { isSiteloomError, SiteloomError } from "../../errors.ts";
import type { SiteContents } from "../../workspace/index.ts";
import { type CliContext, type RegisterCommands, usageError } from "../context.ts";
import { printTable } from "../table.ts";

/** init, site add|list|show|remove (foundation) */
export const registerWorkspaceCommands: RegisterCommands = (program, ctx) => {
  program
    .command("init")
    .description("Create a workspace: siteloom.yaml with every default, sites/, .siteloom/ (0700), .gitignore entries")
    .argument("[dir]", "folder to create it in", ".")
    .option("-f, --force", "overwrite an existing siteloom.yaml (sites/ and .siteloom/ are kept)")
    .option("--example", "copy the bundled example workspace (one site, example.com)")
    .option("-y, --yes", "do not ask before replacing a siteloom.yaml that machines following its store share")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom init                      # in the current folder
  $ siteloom init ~/sites --example    # a workspace with the example site, ready for siteloom config show
  $ siteloom init . --force            # rewrite siteloom.yaml with fresh commented defaults`,
    )
    .action(async (dir: string, opts: { force?: boolean; example?: boolean; yes?: boolean }) => {
      const { initWorkspace, isSharedStore, WORKSPACE_FILE } = await import("../../workspace/index.ts");
      const init = () => initWorkspace({ dir, force: Boolean(opts.force), example: Boolean(opts.example) });
      // re-initialising rewrites the configuration files of a workspace that may have state (and followers): it is
      // recorded like every other CLI write; a new workspace has nothing to record into
      const root = resolve(dir);
      if (!opts.force || !existsSync(join(root, WORKSPACE_FILE))) return _printInit(ctx, await init(), opts);
      const workspace = await ctx.loadWorkspace({ alerts: false, workspace: root }).catch(() => undefined);
      // with a shared store the fresh defaults (store:, secrets: and environments: too) reach every machine
      // following it: said and asked first
      if (workspace && isSharedStore(workspace) && !opts.yes) {
        const what = `replace siteloom.yaml with defaults on every machine following this workspace's store (store:, secrets: and environments: included)`;
        if (!(await _confirm(what))) {
          ctx.info("nothing changed");
          return;
        }
      }
      const result = await (await import("../record-config.ts")).writeConfigRecorded(
        ctx,
        {
          root,
          message: `siteloom init --force${opts.example ? " --example" : ""}`,
          ...(workspace ? { workspace } : {}),
        },
        init,
      );
      _printInit(ctx, result, opts);
    });

  const site = program
    .command("site")
    .description("Add, list, show and remove the sites of the workspace")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom site add shop --domain shop.example.com --protocol sftp --host sftp.example.com --user deploy
  $ siteloom site list --json
  $ siteloom site remove shop --yes`,
    );

  site
    .command("add")
    .description("Create sites/<name>/site.yaml and topics.csv (with its header)")
    .argument("<name>", "site name: lowercase letters, digits and hyphens")
    .requiredOption("--domain <domain>", "the site's domain, e.g. example.com")
    .addOption(new Option("--protocol <protocol>", "how to reach the host").choices(["ftp", "ftps", "sftp", "local"]))
    .option("--host <host>", "host name or address")
    .option("--port <port>", "port (default 21 for ftp/ftps, 22 for sftp)")
    .option("--user <user>", "login name (the password goes into the secret store, never into site.yaml)")
    .option("--root <dir>", "remote folder of the site", "/")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom site add shop --domain shop.example.com
  $ siteloom site add blog --domain blog.example.org --protocol ftps --host ftp.example.org --user web1 --root /htdocs

site.yaml gets remote.password: secret://<name>/FTP_PASSWORD when --user is given; store the value with siteloom secrets.`,
    )
    .action(
      async (
        name: string,
        opts: { domain: string; protocol?: string; host?: string; port?: string; user?: string; root?: string },
      ) => {
        const { addSite, SITE_FILE, SITES_DIR } = await import("../../workspace/index.ts");
        let port: number | undefined;
        if (opts.port !== undefined) {
          if (!/^\d+$/.test(opts.port)) usageError(`--port expects a number such as 21, got "${opts.port}"`);
          port = Number(opts.port);
        }
        const root = await _root(ctx);
        const remote = {
          ...(opts.protocol ? { protocol: opts.protocol } : {}),
          ...(opts.host ? { host: opts.host } : {}),
          ...(port !== undefined ? { port } : {}),
          ...(opts.user ? { user: opts.user } : {}),
          ...(opts.root ? { root: opts.root } : {}),
        };
        const result = await (await import("../record-config.ts")).writeConfigRecorded(
          ctx,
          { root, message: `siteloom site add ${name}`, creates: [`${SITES_DIR}/${name}/${SITE_FILE}`] },
          () => addSite({ root, name, domain: opts.domain, remote }),
        );
        if (ctx.globals().json) return ctx.printJson({ name, ...result });
        ctx.print(`Added site "${name}" in ${SITES_DIR}/${name}/ (${SITE_FILE}, topics.csv)`);
        ctx.print(`Next: add topics to ${SITES_DIR}/${name}/topics.csv, then siteloom config show --site ${name}`);
      },
    );

  site
    .command("list")
    .description("List the sites with their domain and host (and whether their configuration is valid)")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom site list
  $ siteloom site list --env production --json`,
    )
    .action(async () => {
      const workspace = await ctx.loadWorkspace();
      const rows: Record<string, unknown>[] = [];
      for (const name of workspace.sites) {
        try {
          const s = await workspace.site(name);
          rows.push({
            name,
            domain: s.config.domain ?? null,
            protocol: s.config.remote.protocol,
            host: s.config.remote.host ?? null,
            valid: true,
          });
        } catch (error) {
          if (!isSiteloomError(error)) throw error;
          rows.push({ name, domain: null, protocol: null, host: null, valid: false, problems: error.details });
        }
      }
      if (ctx.globals().json) return ctx.printJson({ environment: workspace.env, sites: rows });
      if (rows.length === 0) {
        ctx.print("no sites yet; add one with: siteloom site add <name> --domain example.com");
        return;
      }
      const table = rows.map((r) => [
        String(r.name),
        String(r.domain ?? "-"),
        String(r.protocol ?? "-"),
        String(r.host ?? "-"),
        r.valid ? "ok" : "invalid (siteloom config validate)",
      ]);
      printTable(ctx, ["SITE", "DOMAIN", "PROTOCOL", "HOST", "CONFIG"], table);
      ctx.info(`environment: ${workspace.env}`);
    });

  site
    .command("show")
    .description("Show one site: domain, remote (credentials masked), folders and what they hold")
    .argument("<name>", "site name")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom site show shop
  $ siteloom site show shop --env production --json`,
    )
    .action(async (name: string) => {
      const [{ inspectSite }, { maskCredentials }] = await Promise.all([
        import("../../workspace/index.ts"),
        import("../../config/index.ts"),
      ]);
      const workspace = await ctx.loadWorkspace();
      const s = await workspace.site(name);
      const contents = await inspectSite(s.paths);
      const remote = maskCredentials({ remote: s.config.remote }).remote;
      const info = {
        name,
        environment: workspace.env,
        dir: s.dir,
        domain: s.config.domain ?? null,
        url: s.config.url ?? (s.config.domain ? `https://${s.config.domain}/` : null),
        remote,
        contents,
        paths: s.paths,
      };
      if (ctx.globals().json) return ctx.printJson(info);
      const c = ctx.color;
      ctx.print(`${c.bold(name)}  (environment: ${workspace.env})`);
      ctx.print(`  domain     ${info.domain ?? "-"}`);
      ctx.print(`  url        ${info.url ?? "-"}`);
      ctx.print(
        `  remote     ${remote.protocol}://${remote.user ? `${remote.user}@` : ""}${remote.host ?? "(no host)"}${remote.port ? `:${remote.port}` : ""}${remote.root}`,
      );
      if (remote.password) ctx.print(`  password   ${remote.password}`);
      ctx.print(`  folder     ${s.dir}`);
      if (s.paths.data !== s.dir) ctx.print(`  data       ${s.paths.data}`);
      ctx.print(`  topics     ${contents.topics}`);
      ctx.print(`  export/    ${_files(contents.export)}`);
      ctx.print(`  articles/  ${_files(contents.articles)}`);
      ctx.print(`  output/    ${_files(contents.output)}`);
    });

  site
    .command("remove")
    .description("Remove a site folder (asks first; says what export/ and output/ hold before deleting them)")
    .argument("<name>", "site name")
    .option("-y, --yes", "do not ask (needed when stdin is not a terminal)")
    .option("--keep-data", "delete only site.yaml and topics.csv; keep export/, articles/ and output/")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom site remove shop              # asks, listing what will be deleted
  $ siteloom site remove shop --yes        # no question (scripts)
  $ siteloom site remove shop --keep-data --yes`,
    )
    .action(async (name: string, opts: { yes?: boolean; keepData?: boolean }) => {
      const {
        checkSiteName,
        inspectSite,
        listSiteNames,
        removeSite,
        resolveDataDir,
        SITE_FILE,
        SITES_DIR,
        siteDataPaths,
      } = await import("../../workspace/index.ts");
      checkSiteName(name);
      const root = await _root(ctx);
      const dir = join(root, SITES_DIR, name);
      if (!existsSync(join(dir, SITE_FILE))) {
        const sites = listSiteNames(root);
        throw new SiteloomError(
          "ERR_SITE_NOT_FOUND",
          `no site "${name}" in ${root}; known sites: ${sites.join(", ") || "(none)"}`,
        );
      }
      // the data folder comes from the configuration, which may be broken: then only SITELOOM_DATA_DIR says it
      const config = await ctx
        .loadWorkspace({ alerts: false })
        .then((ws) => ws.config)
        .catch(() => undefined);
      const dataDir = resolveDataDir(root, config);
      const contents = await inspectSite({
        ...siteDataPaths(root, name, dataDir),
        topics: join(dir, "topics.csv"),
      });
      const data = _describeData(contents);
      const what = opts.keepData
        ? `remove site "${name}" (${SITES_DIR}/${name}/${SITE_FILE} and topics.csv; keeping ${data || "its folders"})`
        : `remove site "${name}" and delete ${SITES_DIR}/${name}/${dataDir ? ` and ${siteDataPaths(root, name, dataDir).data}/` : ""}${data ? `, including ${data}` : ""}`;
      if (!opts.yes && !(await _confirm(what))) {
        ctx.info("nothing removed");
        return;
      }
      const result = await (await import("../record-config.ts")).writeConfigRecorded(
        ctx,
        { root, message: `siteloom site remove ${name}`, deletes: [`${SITES_DIR}/${name}/${SITE_FILE}`] },
        () => removeSite({ root, name, keepData: Boolean(opts.keepData), dataDir }),
      );
      if (ctx.globals().json) return ctx.printJson({ name, ...result, contents });
      ctx.print(
        `Removed site "${name}": deleted ${result.removed.join(", ")}${data && !opts.keepData ? ` (with ${data})` : ""}`,
      );
      if (result.kept.length > 0) ctx.print(`Kept: ${result.kept.join(", ")}`);
    });
};

// --- internal ---

/** The report of init: what it created or overwrote, and the next command. */
function _printInit(
  ctx: CliContext,
  result: Awaited<ReturnType<typeof import("../../workspace/index.ts").initWorkspace>>,
  opts: { example?: boolean },
): void {
  if (ctx.globals().json) return void ctx.printJson(result);
  ctx.print(`${result.overwritten.length > 0 ? "Reinitialised" : "Created"} workspace in ${result.root}`);
  for (const file of result.written) ctx.print(`  created      ${file}`);
  for (const file of result.overwritten) ctx.print(`  overwritten  ${file}`);
  ctx.print("  state        .siteloom/ (mode 0700)");
  ctx.print("");
  ctx.print(
    opts.example
      ? `Next: siteloom --workspace ${result.root} config show --site example`
      : `Next: siteloom --workspace ${result.root} site add <name> --domain example.com`,
  );
}

/** Asks "What? [y/N]" on a terminal; without one refuses with a usage error naming --yes. */
async function _confirm(what: string): Promise<boolean> {
  if (!process.stdin.isTTY) usageError(`refusing to ${what} without confirmation; pass --yes`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${what[0]!.toUpperCase()}${what.slice(1)}? [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function _root(ctx: CliContext): Promise<string> {
  const { findWorkspaceRoot } = await import("../../workspace/index.ts");
  return findWorkspaceRoot({ workspace: ctx.globals().workspace });
}

function _files(n: number): string {
  return n === 0 ? "empty" : `${n} file${n === 1 ? "" : "s"}`;
}

function _describeData(contents: SiteContents): string {
  const parts: string[] = [];
  if (contents.export > 0) parts.push(`export/ (${_files(contents.export)})`);
  if (contents.articles > 0) parts.push(`articles/ (${_files(contents.articles)})`);
  if (contents.output > 0) parts.push(`output/ (${_files(contents.output)})`);
  return parts.join(", ");
}
