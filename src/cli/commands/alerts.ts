import { SiteloomError } from "../../errors.ts";
import type { RegisterCommands } from "../context.ts";
import { printTable } from "../table.ts";

/** alerts test, alerts list, alerts send */
export const registerAlertsCommands: RegisterCommands = (program, ctx) => {
  const alerts = program
    .command("alerts")
    .description("Alerts on sensitive changes and failures: test channels, list and send queued alerts");

  alerts
    .command("test")
    .description("Send a test alert on every channel, or on one; exit 1 when a channel failed (the alert is kept)")
    .option("--channel <name>", "only this channel (a key of alerts.channels)")
    .addHelpText("after", "\nExamples:\n  siteloom alerts test\n  siteloom alerts test --channel ops-mail")
    .action(async (opts: { channel?: string }) => {
      const { alerter, store } = await _open(ctx);
      try {
        const ids = await alerter.queueTest(opts.channel).catch((error: Error) => {
          throw new SiteloomError("ERR_USAGE", error.message);
        });
        const results = (await alerter.flush()).filter((r) => ids.includes(r.id));
        if (ctx.globals().json) ctx.printJson(results);
        else {
          for (const r of results) {
            ctx.print(
              r.sent
                ? `${r.channel}: sent (${r.id})`
                : `${r.channel}: FAILED: ${r.error}; kept, next attempt after ${r.nextAttempt}`,
            );
          }
        }
        const failed = results.filter((r) => !r.sent);
        if (failed.length > 0) {
          throw new SiteloomError(
            "ERR_ALERT_SEND",
            `${failed.length} of ${results.length} channel(s) failed: ${failed.map((f) => f.channel).join(", ")}`,
          );
        }
      } finally {
        await store.close();
      }
    });

  alerts
    .command("list")
    .description("Show queued, sent and failing alerts, and the state of each channel")
    .option("--status <status>", "only pending or sent deliveries")
    .option("--limit <n>", "newest deliveries shown", "50")
    .action(async (opts: { status?: string; limit: string }) => {
      if (opts.status !== undefined && opts.status !== "pending" && opts.status !== "sent") {
        throw new SiteloomError("ERR_USAGE", `--status takes pending or sent, got "${opts.status}"`);
      }
      const ws = await ctx.loadWorkspace({ alerts: false });
      const [{ channelHealth }, { openStateStore }] = await Promise.all([
        import("../../alerts/index.ts"),
        import("../../store/index.ts"),
      ]);
      const store = openStateStore({ stateDir: ws.stateDir });
      try {
        const limit = Math.max(1, Number.parseInt(opts.limit, 10) || 50);
        const deliveries = await store.listAlerts({
          ...(opts.status ? { status: opts.status as "pending" | "sent" } : {}),
          limit,
        });
        // channel states look at every pending delivery, not only the newest shown
        const pending = await store.listAlerts({ status: "pending", limit: 10_000 });
        const recent = [...pending, ...deliveries.filter((d) => d.status !== "pending")];
        const channels = channelHealth(ws.config.alerts, recent);
        if (ctx.globals().json) {
          ctx.printJson({ channels, deliveries });
          return;
        }
        if (channels.length === 0) ctx.info("no alert channel configured (alerts.channels in siteloom.yaml)");
        else {
          printTable(
            ctx,
            ["CHANNEL", "TYPE", "STATE", "PENDING", "FAILING", "LAST ERROR"],
            channels.map((c) => [c.channel, c.type, c.state, String(c.pending), String(c.failing), c.lastError ?? ""]),
          );
        }
        if (deliveries.length === 0) {
          ctx.info("no alerts queued or sent");
          return;
        }
        ctx.print();
        printTable(
          ctx,
          ["CREATED", "KIND", "CHANNEL", "STATUS", "ATTEMPTS", "NEXT / SENT", "ID"],
          deliveries.map((d) => [
            d.created,
            d.kind,
            d.channel,
            d.status === "pending" && d.attempts > 0 ? "failing" : d.status,
            String(d.attempts),
            d.status === "sent" ? (d.sent ?? "") : d.nextAttempt,
            d.id,
          ]),
        );
      } finally {
        await store.close();
      }
    });

  alerts
    .command("send")
    .description("Send queued alerts that are due now (those of a failing channel wait for their next attempt)")
    .option("--all", "send every queued alert now, due or not")
    .action(async (opts: { all?: boolean }) => {
      const { alerter, store } = await _open(ctx);
      try {
        const results = await alerter.flush({ all: opts.all === true });
        if (ctx.globals().json) ctx.printJson(results);
        else ctx.print(`${results.filter((r) => r.sent).length} sent, ${results.filter((r) => !r.sent).length} failed`);
        if (results.some((r) => !r.sent)) {
          throw new SiteloomError(
            "ERR_ALERT_SEND",
            "some alerts could not be sent; they are kept (siteloom alerts list)",
          );
        }
      } finally {
        await store.close();
      }
    });
};

// --- internal ---

async function _open(ctx: Parameters<RegisterCommands>[1]) {
  const ws = await ctx.loadWorkspace({ alerts: false });
  const [{ createAlerter }, { openStateStore }] = await Promise.all([
    import("../../alerts/index.ts"),
    import("../../store/index.ts"),
  ]);
  const store = openStateStore({ stateDir: ws.stateDir });
  const alerter = createAlerter({
    store,
    config: () => ws.config.alerts,
    env: ws.env,
    resolve: (value, field) => ws.resolve(value, { field }),
    sendNow: false,
  });
  return { alerter, store };
}
