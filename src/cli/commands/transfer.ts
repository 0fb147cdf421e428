import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { SiteloomError } from "../../errors.ts";
import { printable } from "../../printable.ts";
import type { DeployProgress, DeployResult, ExportProgress, ExportResult } from "../../transfer/index.ts";
import type { SiteContext, Workspace } from "../../workspace/index.ts";
import type { CliContext, RegisterCommands } from "../context.ts";

interface DeployFlags {
  dryRun?: boolean;
  delete?: boolean;
  purge?: boolean;
  yes?: boolean;
  verify?: boolean;
  json?: boolean;
}

interface ExportFlags {
  dryRun?: boolean;
  json?: boolean;
}

/** export, deploy (transfer) */
export const registerTransferCommands: RegisterCommands = (program, ctx) => {
  program
    .command("export")
    .description("Mirror the live site (remote.root) into sites/<site>/export/, downloading only what changed")
    .argument("<site>", "site name")
    .option("--dry-run", "list what would be downloaded and removed, change nothing")
    .option("--json", "machine-readable result")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom export example.com --dry-run     # what would change locally
  $ siteloom export example.com               # mirror down (incremental; local files gone remotely are removed)
  $ siteloom --env production export example.com --json`,
    )
    .action(async (siteName: string, flags: ExportFlags, command: Command) => {
      await _export(ctx, siteName, { ...flags, json: flags.json ?? _json(command) });
    });

  program
    .command("deploy")
    .description("Upload sites/<site>/output/ to the host: only what changed, each file renamed into place atomically")
    .argument("<site>", "site name")
    .option("--dry-run", "show the plan (deletions first), change nothing")
    .option("--delete", "delete remote files that are not in output/ (never deploy.protect patterns)")
    .option("--purge", "empty the remote root first (asks for confirmation)")
    .option("-y, --yes", "do not ask: confirm --purge (needed when not on a terminal)")
    .option("--verify", "compare with a listing of the server and hash what looks different, ignoring the manifest")
    .option("--json", "machine-readable result")
    .addHelpText(
      "after",
      `
Examples:
  $ siteloom deploy example.com --dry-run           # plan only
  $ siteloom deploy example.com                     # upload what changed since the last deploy
  $ siteloom --env production deploy example.com --delete
  $ siteloom deploy example.com --verify            # someone edited the live site by hand
  $ siteloom deploy example.com --purge --yes       # empty the remote root, then upload everything

Exit codes: 0 ok, 5 when any file failed (each is named with the server's reply), 2 usage, 3 config.`,
    )
    .action(async (siteName: string, flags: DeployFlags, command: Command) => {
      await _deploy(ctx, siteName, { ...flags, json: flags.json ?? _json(command) });
    });
};

// --- internal ---

function _json(command: Command): boolean {
  return Boolean(command.optsWithGlobals<{ json?: boolean }>().json);
}

async function _openSite(ctx: CliContext, siteName: string): Promise<{ ws: Workspace; site: SiteContext }> {
  const ws = await ctx.loadWorkspace();
  const site = await ws.site(siteName);
  return { ws, site };
}

async function _export(ctx: CliContext, siteName: string, flags: ExportFlags): Promise<void> {
  const { ws, site } = await _openSite(ctx, siteName);
  const { normaliseManifestDir, openSitePool, runExport } = await import("../../transfer/index.ts");
  const { pool, describe, unsafe } = await openSitePool(site, ws, site.config.deploy.parallel, { warn: ctx.warn });
  ctx.info(`export ${site.name} (env ${ws.env}) ← ${describe}${flags.dryRun ? " [dry run]" : ""}`);
  const bar = _progress(ctx, flags.json === true);
  let result: ExportResult;
  try {
    result = await runExport({
      site: site.name,
      exportDir: site.paths.export,
      pool,
      // our own deploy manifest folder is not part of the site
      config: {
        ...site.config.export,
        exclude: [
          ...site.config.export.exclude,
          ..._manifestExclude(normaliseManifestDir(site.config.deploy.manifestPath)),
        ],
      },
      dryRun: flags.dryRun === true,
      retries: site.config.deploy.retries,
      retryBaseMs: site.config.deploy.retryBaseMs,
      retryMaxMs: site.config.deploy.retryMaxMs,
      onProgress: (e) => bar.export(e),
    });
  } finally {
    bar.done();
    await pool.close();
  }
  // entries the server listed that were refused for safety are part of the "skipped" report
  for (const u of unsafe) {
    result.skipped.push({ path: u.dir === "" ? u.name : `${u.dir}/${u.name}`, reason: `refused: ${u.reason}` });
    result.stats.skipped++;
  }
  if (flags.json) {
    ctx.printJson({ env: ws.env, ...result });
  } else {
    if (flags.dryRun) {
      for (const path of result.deleted) ctx.print(`would remove   ${_shown(path)}`);
      for (const path of result.downloaded) ctx.print(`would download ${_shown(path)}`);
    }
    // paths and reasons come from the server: shown inert
    for (const s of result.skipped) ctx.print(`skipped        ${_shown(s.path)} (${printable(s.reason)})`);
    for (const f of result.failures) {
      ctx.print(`${ctx.color.red("failed")}         ${_shown(f.path)}: ${printable(f.message)}`);
    }
    const st = result.stats;
    ctx.print(
      `${flags.dryRun ? "would download" : "downloaded"} ${flags.dryRun ? result.downloaded.length : st.downloaded} file(s) (${_bytes(st.bytes)}), unchanged ${st.unchanged}, ${flags.dryRun ? "would remove" : "removed"} ${flags.dryRun ? result.deleted.length : st.deleted}, skipped ${st.skipped}, failed ${st.failed} — ${_secs(st.durationMs)}, ${_bytes(st.throughput)}/s, ${st.retries} retries, ${st.connections} connection(s)`,
    );
  }
  if (result.failures.length > 0) {
    throw new SiteloomError("ERR_TRANSFER_IO", `${result.failures.length} file(s) could not be downloaded`, {
      site: site.name,
      details: result.failures.map((f) => `  ${f.path}: ${f.message}`),
    });
  }
}

async function _deploy(ctx: CliContext, siteName: string, flags: DeployFlags): Promise<void> {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (flags.purge && !flags.dryRun && !flags.yes && !interactive) {
    throw new SiteloomError(
      "ERR_USAGE",
      "--purge deletes everything on the server: add --yes to confirm (there is no terminal to ask), or try --dry-run first",
    );
  }
  const { ws, site } = await _openSite(ctx, siteName);
  const cfg = site.config.deploy;
  const { openSitePool, runDeploy } = await import("../../transfer/index.ts");
  const { pool, describe } = await openSitePool(site, ws, cfg.parallel, { warn: ctx.warn });
  ctx.info(`deploy ${site.name} (env ${ws.env}) → ${describe}${flags.dryRun ? " [dry run]" : ""}`);
  const bar = _progress(ctx, flags.json === true);
  let result: DeployResult;
  try {
    result = await runDeploy({
      site: site.name,
      env: ws.env,
      outputDir: site.paths.output,
      stateDir: ws.stateDir,
      pool,
      config: cfg,
      dryRun: flags.dryRun === true,
      delete: flags.delete === true || cfg.delete,
      purge: flags.purge === true,
      verify: flags.verify === true,
      onProgress: (e) => bar.deploy(e),
      confirmPurge: async (paths) => {
        bar.pause();
        for (const p of paths.slice(0, 50)) ctx.info(`  delete ${p}`);
        if (paths.length > 50) ctx.info(`  … and ${paths.length - 50} more`);
        if (flags.yes) return true;
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`Delete these ${paths.length} remote entries from ${describe}? [y/N] `);
        rl.close();
        return /^y(es)?$/i.test(answer.trim());
      },
    });
  } finally {
    bar.done();
    await pool.close();
  }
  if (flags.json) ctx.printJson(result);
  else _printDeploy(ctx, result);
  if (result.failures.length > 0) {
    throw new SiteloomError(
      "ERR_DEPLOY_FAILED",
      `${result.failures.length} file(s) failed to deploy; rerun \`siteloom deploy ${site.name}\` to retry only those`,
      { site: site.name, details: result.failures.map((f) => `  ${f.path}: ${f.message}`) },
    );
  }
}

function _printDeploy(ctx: CliContext, r: DeployResult): void {
  for (const note of r.notes) ctx.info(note);
  if (r.dryRun) {
    // deletions first: they are what a user most needs to see before saying yes
    for (const p of r.plan.purge) ctx.print(`would purge    ${p}`);
    for (const p of r.plan.delete) ctx.print(`would delete   ${p}`);
    for (const d of r.plan.mkdir) ctx.print(`would mkdir    ${d}/`);
    for (const u of r.plan.upload) ctx.print(`would upload   ${u.path} (${_bytes(u.size)}, ${u.reason})`);
    const bytes = r.plan.upload.reduce((n, u) => n + u.size, 0);
    ctx.print(
      `plan: upload ${r.plan.upload.length} file(s) (${_bytes(bytes)}), skip ${r.stats.skipped}, delete ${r.plan.delete.length}${r.plan.purge.length ? `, purge ${r.plan.purge.length}` : ""}, create ${r.plan.mkdir.length} dir(s) [${r.mode}]`,
    );
    return;
  }
  for (const f of r.failures) ctx.print(`${ctx.color.red("failed")}  ${_shown(f.path)}: ${printable(f.message)}`);
  const s = r.stats;
  const nothing = s.uploaded === 0 && s.deleted === 0 && s.failed === 0 && s.dirsCreated === 0;
  ctx.print(
    nothing
      ? `up to date: ${s.skipped} file(s) unchanged — ${_secs(s.durationMs)}, ${s.connections} connection(s)`
      : `uploaded ${s.uploaded} file(s) (${_bytes(s.bytes)}), skipped ${s.skipped}, deleted ${s.deleted}, failed ${s.failed}, ${s.dirsCreated} dir(s) created — ${_secs(s.durationMs)}, ${_bytes(s.throughput)}/s, ${s.retries} retries, ${s.connections} connection(s)`,
  );
}

interface _Bar {
  deploy(e: DeployProgress): void;
  export(e: ExportProgress): void;
  pause(): void;
  done(): void;
}

/** A one-line progress bar on a TTY (stderr); plain lines otherwise (phase changes, retries and failures). */
function _progress(ctx: CliContext, json: boolean): _Bar {
  const quiet = ctx.globals().quiet === true;
  const verbose = ctx.globals().verbose === true;
  const tty = Boolean(process.stderr.isTTY) && !quiet && !json;
  let lastPhase = "";
  let lastDraw = 0;
  let drawn = false;
  const clear = () => {
    if (drawn) process.stderr.write("\r\x1b[2K");
    drawn = false;
  };
  const line = (text: string) => {
    if (quiet || json) return;
    clear();
    ctx.info(text);
  };
  const draw = (phase: string, done: number, total: number, bytes: number, totalBytes: number) => {
    const now = Date.now();
    if (now - lastDraw < 80 && done < total) return;
    lastDraw = now;
    const width = 24;
    const frac = totalBytes > 0 ? bytes / totalBytes : total > 0 ? done / total : 0;
    const fill = Math.round(Math.min(1, frac) * width);
    const bar = `[${"#".repeat(fill)}${"-".repeat(width - fill)}]`;
    const text = `${phase.padEnd(8)} ${bar} ${done}/${total || "?"} ${totalBytes > 0 ? `${_bytes(bytes)}/${_bytes(totalBytes)}` : ""}`;
    process.stderr.write(`\r\x1b[2K${text.slice(0, (process.stderr.columns ?? 80) - 1)}`);
    drawn = true;
  };
  const event = (e: {
    phase: string;
    done: number;
    total: number;
    bytes: number;
    totalBytes: number;
    path?: string;
    outcome?: string;
    message?: string;
  }) => {
    if (e.outcome === "retry") {
      if (verbose) line(`retry   ${_shown(e.path ?? "")}: ${printable(e.message ?? "")}`);
      return;
    }
    if (e.outcome === "failed") line(`failed  ${_shown(e.path ?? "")}`);
    if (tty) {
      draw(e.phase, e.done, e.total, e.bytes, e.totalBytes);
      return;
    }
    if (e.phase !== lastPhase) {
      lastPhase = e.phase;
      // plain lines: one per phase that moves files, with its size
      if (!["scan", "manifest", "finish"].includes(e.phase)) line(`${e.phase}${e.total > 0 ? ` (${e.total})` : ""}…`);
    }
    if (verbose && e.path !== undefined && e.outcome !== undefined) line(`${e.outcome.padEnd(10)} ${_shown(e.path)}`);
  };
  return {
    deploy: event,
    export: event,
    pause: clear,
    done: clear,
  };
}

/** A path (possibly named by the server) shown with its control characters escaped. */
function _shown(path: string): string {
  return printable(path, { newlines: "escape" });
}

function _manifestExclude(dir: string | undefined): string[] {
  return dir === undefined ? [] : [`/${dir}/`];
}

function _bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function _secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
