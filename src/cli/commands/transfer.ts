import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { SiteloomError } from "../../errors.ts";
import type { DeployStepOptions } from "../../pipeline/index.ts";
import { printable } from "../../printable.ts";
import type { DeployResult, ExportResult, RollbackResult } from "../../transfer/index.ts";
import type { CliContext, RegisterCommands } from "../context.ts";

interface DeployFlags {
  dryRun?: boolean;
  delete?: boolean;
  purge?: boolean;
  yes?: boolean;
  verify?: boolean;
  json?: boolean;
  rollback?: boolean;
  to?: string;
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
    .option("--rollback", "undo the last deploy: restore the files it replaced or deleted, remove the ones it added")
    .option("--to <run>", "with --rollback: the deploy to return to (manifest id or its first 8 characters, or run id)")
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
  $ siteloom deploy example.com --rollback --dry-run # what undoing the last deploy would change
  $ siteloom deploy example.com --rollback --to 3f2a9c1e

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

async function _export(ctx: CliContext, siteName: string, flags: ExportFlags): Promise<void> {
  const { runStepCommand } = await import("../run-step.ts");
  await runStepCommand<ExportResult>(
    ctx,
    { step: "export", site: siteName, dryRun: flags.dryRun === true },
    (result, run) => {
      if (flags.json) {
        ctx.printJson({ env: run.env, ...result });
        return;
      }
      if (flags.dryRun) {
        for (const path of result.deleted) ctx.print(`would remove   ${path}`);
        for (const path of result.downloaded) ctx.print(`would download ${path}`);
      }
      for (const s of result.skipped) ctx.print(`skipped        ${s.path} (${s.reason})`);
      for (const f of result.failures) ctx.print(`${ctx.color.red("failed")}         ${f.path}: ${f.message}`);
      const st = result.stats;
      ctx.print(
        `${flags.dryRun ? "would download" : "downloaded"} ${flags.dryRun ? result.downloaded.length : st.downloaded} file(s) (${_bytes(st.bytes)}), unchanged ${st.unchanged}, ${flags.dryRun ? "would remove" : "removed"} ${flags.dryRun ? result.deleted.length : st.deleted}, skipped ${st.skipped}, failed ${st.failed} — ${_secs(st.durationMs)}, ${_bytes(st.throughput)}/s, ${st.retries} retries, ${st.connections} connection(s)`,
      );
    },
  );
}

async function _deploy(ctx: CliContext, siteName: string, flags: DeployFlags): Promise<void> {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  if (flags.purge && !flags.dryRun && !flags.yes && !interactive) {
    throw new SiteloomError(
      "ERR_USAGE",
      "--purge deletes everything on the server: add --yes to confirm (there is no terminal to ask), or try --dry-run first",
    );
  }
  if (flags.to !== undefined && !flags.rollback) {
    throw new SiteloomError("ERR_USAGE", "--to goes with --rollback: `siteloom deploy <site> --rollback --to <run>`");
  }
  if (flags.rollback && (flags.delete || flags.purge || flags.verify)) {
    throw new SiteloomError("ERR_USAGE", "--rollback cannot be combined with --delete, --purge or --verify");
  }
  const { runStepCommand } = await import("../run-step.ts");
  if (flags.rollback) {
    await runStepCommand<RollbackResult>(
      ctx,
      {
        step: "deploy",
        site: siteName,
        dryRun: flags.dryRun === true,
        options: { rollback: true, ...(flags.to !== undefined ? { to: flags.to } : {}) },
      },
      (result) => (flags.json ? ctx.printJson(result) : _printRollback(ctx, result)),
    );
    return;
  }
  const options: DeployStepOptions = {
    delete: flags.delete === true,
    purge: flags.purge === true,
    verify: flags.verify === true,
    confirmPurge: async (paths) => {
      for (const p of paths.slice(0, 50)) ctx.info(`  delete ${p}`);
      if (paths.length > 50) ctx.info(`  … and ${paths.length - 50} more`);
      if (flags.yes) return true;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Delete these ${paths.length} remote entries of ${siteName}? [y/N] `);
      rl.close();
      return /^y(es)?$/i.test(answer.trim());
    },
  };
  await runStepCommand<DeployResult>(
    ctx,
    { step: "deploy", site: siteName, dryRun: flags.dryRun === true, options: { ...options } },
    (result) => (flags.json ? ctx.printJson(result) : _printDeploy(ctx, result)),
  );
}

function _printDeploy(ctx: CliContext, r: DeployResult): void {
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

function _printRollback(ctx: CliContext, r: RollbackResult): void {
  const { plan, stats } = r;
  const back = `back to ${plan.to?.slice(0, 8) ?? "the state before the oldest kept deploy"}`;
  if (r.dryRun) {
    for (const p of plan.remove) ctx.print(`would remove   ${_shown(p)}`);
    for (const f of plan.restore) ctx.print(`would restore  ${_shown(f.path)} (${_bytes(f.size)})`);
    ctx.print(
      `plan: restore ${plan.restore.length} file(s), remove ${plan.remove.length}, undo ${plan.undo.length} deploy(s), ${back}`,
    );
    return;
  }
  ctx.print(
    `rolled back ${plan.undo.length} deploy(s), ${back}: restored ${stats.restored} file(s), removed ${stats.removed} — ${_secs(stats.durationMs)}`,
  );
}

function _shown(path: string): string {
  return printable(path, { newlines: "escape" });
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
