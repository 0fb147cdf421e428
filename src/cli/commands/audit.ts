import { SiteloomError } from "../../errors.ts";
import { type RegisterCommands, usageError } from "../context.ts";

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
    .description("Read the audit log of secret accesses and config changes (.siteloom/audit.log)")
    .option("--since <when>", "ISO date/time, or a duration back from now: 30m, 12h, 7d")
    .option("--actor <name>", "only this actor")
    .option("--action <action>", "only this action (read, reveal, write, rotate, rollback, delete, unlock, ...)")
    .option("--ref <text>", "only references containing this text")
    .addHelpText("after", `\nExamples:\n  siteloom audit --since 7d --action reveal\n  siteloom audit verify`)
    .action(async (opts: AuditOptions) => {
      const ws = await ctx.loadWorkspace();
      const { auditLogPath, readAuditLog } = await import("../../audit/index.ts");
      const since = opts.since ? _since(opts.since) : undefined;
      const entries = readAuditLog(auditLogPath(ws), { since, actor: opts.actor, action: opts.action, ref: opts.ref });
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
      const ws = await ctx.loadWorkspace();
      const { auditLogPath, verifyAuditLog } = await import("../../audit/index.ts");
      const result = verifyAuditLog(auditLogPath(ws));
      if (ctx.globals().json) ctx.printJson(result);
      if (!result.ok) {
        throw new SiteloomError(
          "ERR_AUDIT_TAMPERED",
          `audit log .siteloom/audit.log is not intact: line ${result.line}: ${result.problem}`,
        );
      }
      if (!ctx.globals().json) ctx.print(`audit log intact: ${result.entries} entries, hash chain verified`);
    });
};

// --- internal ---

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
