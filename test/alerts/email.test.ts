import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomValue, tempWorkspace } from "../secrets/helpers.ts";
import { useTempDir } from "../support/cli.ts";
import { type SmtpServer, startSmtp, waitFor } from "./support.ts";

let smtp: SmtpServer;
let dir: string;

beforeAll(async () => {
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  dir = await mkdtemp(join(tmpdir(), "siteloom-smtp-"));
  smtp = await startSmtp(dir);
});
afterAll(async () => {
  await smtp?.stop();
  const { rm } = await import("node:fs/promises");
  await rm(dir, { recursive: true, force: true });
});

describe("alerts: e-mail channel (aiosmtpd with STARTTLS and AUTH)", () => {
  it("test and reveal alerts arrive with the right headers and body; a wrong password fails clearly and is retried later", async () => {
    await useTempDir(); // keeps the helpers' per-test cleanup order
    const ws = await tempWorkspace({ "siteloom.yaml": "environment: production\n" });
    const canary = randomValue("canary");
    expect((await ws.cli(["secrets", "init"])).code).toBe(0);
    expect(
      (await ws.cli(["secrets", "set", "global/SMTP_PASSWORD", "--stdin"], { input: "wrong-password" })).code,
    ).toBe(0);
    expect((await ws.cli(["secrets", "set", "shop/FTP_PASSWORD", "--stdin"], { input: canary })).code).toBe(0);
    await writeFile(
      join(ws.root, "siteloom.yaml"),
      `environment: production
alerts:
  channels:
    mail:
      type: email
      host: 127.0.0.1
      port: ${smtp.port}
      security: starttls
      user: ${smtp.user}
      password: secret://global/SMTP_PASSWORD
      from: siteloom@example.test
      to: [ops@example.test]
      caFile: ${smtp.caFile}
      timeoutMs: 5000
  attempts: 2
  retryBaseMs: 50
`,
    );

    // wrong password: one clear line, the alert kept for later
    const wrong = await ws.cli(["alerts", "test", "--channel", "mail"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(
      /mail: FAILED: alert channel mail: the SMTP server refused the login \(535\): check alerts\.channels\.mail\.user and password; kept, next attempt after \S+Z/,
    );
    expect(wrong.stdout + wrong.stderr).not.toContain("wrong-password");
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
    const failing = await ws.cli(["alerts", "list"]);
    expect(failing.stdout).toMatch(/mail\s+email\s+failing\s+1\s+1/);
    expect(await smtp.messages()).toHaveLength(0);

    // the password fixed: the kept alert goes out on the next send, then a reveal alerts by itself
    expect((await ws.cli(["secrets", "set", "global/SMTP_PASSWORD", "--stdin"], { input: smtp.password })).code).toBe(
      0,
    );
    const send = await ws.cli(["alerts", "send", "--all"]);
    expect(send.stdout).toContain("1 sent, 0 failed");
    const reveal = await ws.cli(["secrets", "get", "secret://shop/FTP_PASSWORD", "--reveal"]);
    expect(reveal.stdout).toBe(`${canary}\n`);
    const messages = await waitFor(async () => {
      const m = await smtp.messages();
      return m.length >= 2 ? m : undefined;
    });
    // long header lines are folded (RFC 5322) and long body lines soft-broken (quoted-printable): undo both
    const [test, alert] = (messages as string[]).map((m) =>
      m
        .replace(/\r?\n[ \t]+/g, " ")
        .replace(/=\r?\n/g, "")
        .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    ) as [string, string];
    expect(test).toMatch(/^Subject: \[siteloom\] production: test - test alert from siteloom on /m);
    expect(test).toMatch(/^From: siteloom@example\.test$/m);
    expect(test).toMatch(/^To: ops@example\.test$/m);
    expect(test).toMatch(/^X-Siteloom-Alert-ID: test:[0-9a-f-]{36}\/mail$/m);
    expect(alert).toMatch(
      /^Subject: \[siteloom\] production: secret\.reveal \(shop\) - secret secret:\/\/shop\/FTP_PASSWORD revealed by /m,
    );
    expect(alert).toMatch(/^X-Siteloom-Alert-ID: secret\.reveal:[0-9a-f-]{36}\/mail$/m);
    expect(alert).toMatch(/^Where: environment production, site shop, host \S+/m);
    expect(alert).toMatch(/^Audit: entry [0-9a-f]{64}/m);
    for (const m of messages ?? []) {
      expect(m).not.toContain(canary);
      expect(m).not.toContain(smtp.password);
    }
    const list = JSON.parse((await ws.cli(["alerts", "list", "--json"])).stdout) as {
      deliveries: { kind: string; status: string }[];
    };
    expect(list.deliveries.map((d) => `${d.kind}:${d.status}`).sort()).toEqual(["secret.reveal:sent", "test:sent"]);
  });
});
