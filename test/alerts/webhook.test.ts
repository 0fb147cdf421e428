import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { randomValue, type TempWorkspace, tempWorkspace } from "../secrets/helpers.ts";
import { BIN } from "../support/cli.ts";
import { startReceiver, type WebhookReceiver, waitFor } from "./support.ts";

let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

/** A production workspace whose alerts go to a signed webhook; the shop's FTP password is the canary. */
async function setup(extra = ""): Promise<{ ws: TempWorkspace; canary: string; key: string; hook: WebhookReceiver }> {
  const ws = await tempWorkspace({ "siteloom.yaml": "environment: production\n" });
  const canary = randomValue("canary");
  const key = randomValue("hmac");
  expect((await ws.cli(["secrets", "init"])).code).toBe(0);
  expect((await ws.cli(["secrets", "set", "global/ALERT_WEBHOOK_KEY", "--stdin"], { input: key })).code).toBe(0);
  expect((await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], { input: canary })).code).toBe(0);
  const hook = await startReceiver(key);
  receiver = hook;
  await writeFile(
    join(ws.root, "siteloom.yaml"),
    `environment: production
alerts:
  channels:
    hook:
      type: webhook
      url: ${hook.url}
      key: secret://global/ALERT_WEBHOOK_KEY
      timeoutMs: 3000
  attempts: 4
  retryBaseMs: 50
  retryLaterMs: 60000
${extra}`,
  );
  return { ws, canary, key, hook };
}

describe("alerts: webhook channel", () => {
  it("a reveal in production arrives once, signed, after the receiver's first failures; no secret in it", async () => {
    const { ws, canary, key, hook } = await setup();
    hook.mode.fail = 2;
    const reveal = await ws.cli(["secrets", "get", "secret://shop/FTP_PASSWORD", "--reveal"]);
    expect(reveal.code).toBe(0);
    expect(reveal.stdout).toBe(`${canary}\n`);
    await waitFor(() => hook.accepted.length === 1, 10_000, "the alert");
    expect(hook.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(new Set(hook.requests.map((r) => r.key)).size).toBe(1);
    expect(hook.badSignatures).toBe(0);
    const alert = hook.accepted[0]!;
    expect(alert.json).toMatchObject({
      kind: "secret.reveal",
      environment: "production",
      site: "shop",
      ref: "secret://shop/FTP_PASSWORD",
      outcome: "ok",
    });
    expect(alert.json.id).toBe(alert.headers["idempotency-key"]);
    expect(String(alert.json.summary)).toContain("revealed");
    // the audit entry it links to is the reveal in the hash-chained log
    const audit = (await readFile(join(ws.root, ".siteloom", "audit.log"), "utf8")).trim().split("\n");
    const entry = audit.map((l) => JSON.parse(l)).find((e) => e.hash === (alert.json.audit as { id: string }).id);
    expect(entry).toMatchObject({ action: "reveal", ref: "secret://shop/FTP_PASSWORD" });
    expect(alert.json.actor).toBe(entry.actor);
    for (const text of [alert.body, JSON.stringify(alert.headers), audit.join("\n")]) {
      expect(text).not.toContain(canary);
      expect(text).not.toContain(key);
    }
    const list = await ws.cli(["alerts", "list", "--json"]);
    const listed = JSON.parse(list.stdout) as { channels: { state: string }[]; deliveries: { status: string }[] };
    expect(listed.deliveries.map((d) => d.status)).toEqual(["sent"]);
    expect(listed.channels[0]?.state).toBe("ok");
    expect(list.stdout).not.toContain(canary);
  });

  it("kill -9 between queued and sent loses nothing: the next `alerts send` delivers it exactly once", async () => {
    const { ws, hook } = await setup();
    hook.mode.hang = true;
    const child = spawn(process.execPath, [BIN, "secrets", "get", "secret://shop/FTP_PASSWORD", "--reveal"], {
      cwd: ws.root,
      env: { ...process.env, XDG_CONFIG_HOME: ws.xdg, NO_COLOR: "1", SITELOOM_ENV: "" },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // queued (in the store) and in flight (the receiver holds the request open): now the process dies
    await waitFor(async () => {
      const out = JSON.parse((await ws.cli(["alerts", "list", "--json"])).stdout) as { deliveries: unknown[] };
      return out.deliveries.length === 1 && hook.requests.length === 0;
    });
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGKILL");
    await exited;
    const pending = JSON.parse((await ws.cli(["alerts", "list", "--json"])).stdout) as {
      deliveries: { status: string; kind: string }[];
    };
    expect(pending.deliveries).toMatchObject([{ status: "pending", kind: "secret.reveal" }]);
    hook.mode.hang = false;
    const send = await ws.cli(["alerts", "send"]);
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toContain("1 sent, 0 failed");
    expect(hook.accepted).toHaveLength(1);
    expect(hook.accepted[0]?.json.kind).toBe("secret.reveal");
    // a second send finds nothing left
    expect((await ws.cli(["alerts", "send"])).stdout).toContain("0 sent, 0 failed");
    expect(hook.requests.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it("a channel that keeps failing is reported, its alert kept, and `alerts test` exits 1 with the reason", async () => {
    const { ws, hook } = await setup();
    hook.mode.always = 500;
    const test = await ws.cli(["alerts", "test", "--channel", "hook"]);
    expect(test.code).toBe(1);
    expect(test.stdout).toContain("hook: FAILED: alert channel hook: the receiver answered HTTP 500; kept");
    expect(test.stderr).toMatch(/1 of 1 channel\(s\) failed: hook/);
    const list = await ws.cli(["alerts", "list"]);
    expect(list.stdout).toMatch(
      /hook\s+webhook\s+failing\s+1\s+1\s+alert channel hook: the receiver answered HTTP 500/,
    );
    const json = JSON.parse((await ws.cli(["alerts", "list", "--json"])).stdout) as {
      deliveries: { status: string; attempts: number }[];
    };
    expect(json.deliveries).toMatchObject([{ status: "pending", attempts: 1 }]);
    // not due yet: a plain send leaves it; --all sends it once the receiver is back
    hook.mode.always = undefined;
    expect((await ws.cli(["alerts", "send"])).stdout).toContain("0 sent, 0 failed");
    expect((await ws.cli(["alerts", "send", "--all"])).stdout).toContain("1 sent, 0 failed");
    expect(hook.accepted.map((a) => a.json.kind)).toEqual(["test"]);
    const unknown = await ws.cli(["alerts", "test", "--channel", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no alert channel "nope"; the channels are hook');
  });
});
