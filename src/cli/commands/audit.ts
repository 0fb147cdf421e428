import type { AuditTrail } from "../../audit/index.ts";
import { SiteloomError } from "../../errors.ts";
import { type CliContext, type RegisterCommands, usageError } from "../context.ts";

interface AuditOptions {
  since?: string;
  actor?: string;
  action?: string;
  ref?: string;
}

/** audit, audit verify (credential manager) */
export const registerAuditCommands: RegisterCommands = (program, ctx) => {
  const audit = program
    .command("audit")
    .description("Read the audit log of secret accesses and config changes (.siteloom/audit.log, or the shared store)")
    .option("--since <when>", "ISO date/time, or a duration back from now: 30m, 12h, 7d")
    .option("--actor <name>", "only this actor")
    .option("--action <action>", "only this action (read, reveal, write, rotate, rollback, delete, unlock, ...)")
    .option("--ref <text>", "only references containing this text")
    .addHelpText("after", `\nExamples:\n  siteloom audit --since 7d --action reveal\n  siteloom audit verify`)
    .action(async (opts: AuditOptions) => {
      const since = opts.since ? _since(opts.since) : undefined;
      const trail = await _trail(ctx);
      const entries = await trail
        .read({ since, actor: opts.actor, action: opts.action, ref: opts.ref })
        .finally(() => trail.close());
      if (ctx.globals().json) {
        ctx.printJson(entries);
        return;
      }
      if (entries.length === 0) {
        ctx.info("no audit entries match");
        return;
      }
      for (const e of entries) {
        const extra = [e.store ? `store=${e.store}` : "", e.version ? `v${e.version}` : "", e.error ?? ""].filter(
          Boolean,
        );
        ctx.print(
          `${e.time}  ${e.actor}  ${e.action.padEnd(8)} ${e.outcome.padEnd(9)} ${e.env}  ${e.ref}${extra.length ? `  ${extra.join(" ")}` : ""}`,
        );
      }
    });

  audit
    .command("verify")
    .description("Check the hash chain: names the first edited, deleted, inserted or reordered entry")
    .addHelpText("after", `\nExample:\n  siteloom audit verify && echo intact`)
    .action(async () => {
      const trail = await _trail(ctx);
      const result = await trail.verify().finally(() => trail.close());
      if (ctx.globals().json) ctx.printJson(result);
      if (!result.ok) {
        const where = trail.appendSync ? ".siteloom/audit.log" : trail.location;
        const at = trail.appendSync ? `line ${result.line}` : `entry ${result.line}`;
        throw new SiteloomError("ERR_AUDIT_TAMPERED", `audit log ${where} is not intact: ${at}: ${result.problem}`);
      }
      if (!ctx.globals().json) ctx.print(`audit log intact: ${result.entries} entries, hash chain verified`);
    });
};

// --- internal ---

/** The workspace's audit trail: the file, or the shared store's chain. */
async function _trail(ctx: CliContext): Promise<AuditTrail> {
  const ws = await ctx.loadWorkspace();
  const { openWorkspaceAuditTrail } = await import("../../workspace/index.ts");
  return openWorkspaceAuditTrail(ws);
}

function _since(text: string): Date {
  const m = /^(\d+)\s*(m|h|d|w)$/.exec(text.trim());
  if (m) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "m" | "h" | "d" | "w"];
    return new Date(Date.now() - Number(m[1]) * unit);
  }
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    usageError(`--since takes an ISO date (2026-05-01) or a duration (30m, 12h, 7d), got "${text}"`);
  return date;
}
