import { type ChildProcess, spawn } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, stopChild } from "../support/servers/common.ts";
import { makeTestCertificates } from "../support/tls.ts";

/** One POST the webhook receiver took (answered 2xx). */
export interface ReceivedAlert {
  headers: IncomingMessage["headers"];
  body: string;
  json: Record<string, unknown>;
}

export interface WebhookReceiver {
  url: string;
  /** Answers 2xx and keeps the delivery, once per idempotency key (repeats are answered 200 and dropped). */
  accepted: ReceivedAlert[];
  /** Every request seen, with the status it got. */
  requests: { key: string; status: number }[];
  /** `fail`: the next n requests get 503; `hang`: requests are never answered; `ok`. */
  mode: { fail: number; hang: boolean; always?: number | undefined };
  /** Deliveries whose signature did not verify. */
  badSignatures: number;
  close(): Promise<void>;
}

/**
 * A webhook receiver as a service would write one: checks the HMAC-SHA256 signature over `<timestamp>.<body>`
 * (refusing with 401 when it does not verify) and keeps one delivery per idempotency key.
 */
export async function startReceiver(key: string): Promise<WebhookReceiver> {
  const seen = new Set<string>();
  const hung: import("node:http").ServerResponse[] = [];
  const receiver = {
    url: "",
    accepted: [] as ReceivedAlert[],
    requests: [] as { key: string; status: number }[],
    mode: { fail: 0, hang: false } as WebhookReceiver["mode"],
    badSignatures: 0,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const id = String(req.headers["idempotency-key"] ?? "");
      const answer = (status: number) => {
        receiver.requests.push({ key: id, status });
        res.writeHead(status).end();
      };
      if (receiver.mode.hang) {
        hung.push(res);
        return;
      }
      if (receiver.mode.always) return answer(receiver.mode.always);
      if (receiver.mode.fail > 0) {
        receiver.mode.fail--;
        return answer(503);
      }
      const expected = `sha256=${createHmac("sha256", key).update(`${req.headers["x-siteloom-timestamp"]}.${body}`).digest("hex")}`;
      const given = String(req.headers["x-siteloom-signature"] ?? "");
      if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) {
        receiver.badSignatures++;
        return answer(401);
      }
      if (!seen.has(id)) {
        seen.add(id);
        receiver.accepted.push({ headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown> });
      }
      answer(200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  receiver.close = async () => {
    for (const res of hung) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}

export interface SmtpServer {
  port: number;
  caFile: string;
  user: string;
  password: string;
  /** The messages received so far, raw. */
  messages(): Promise<string[]>;
  stop(): Promise<void>;
}

/** aiosmtpd on loopback: STARTTLS required (or implicit TLS), AUTH over TLS only, certificates from a test CA. */
export async function startSmtp(dir: string, options: { implicitTls?: boolean } = {}): Promise<SmtpServer> {
  const etc = join(dir, "etc");
  const mail = join(dir, "mail");
  await mkdir(etc, { recursive: true });
  await mkdir(mail, { recursive: true });
  const caFile = join(etc, "ca.crt");
  await makeTestCertificates(etc, caFile);
  const port = await freePort();
  const user = "alerts";
  const password = `smtp-${Math.random().toString(36).slice(2)}`;
  const script = fileURLToPath(new URL("../support/smtp-server.py", import.meta.url));
  const child: ChildProcess = spawn(
    "/usr/bin/python3",
    [
      script,
      String(port),
      join(etc, "server.crt"),
      join(etc, "server.key"),
      user,
      password,
      mail,
      ...(options.implicitTls ? ["--tls"] : []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr?.on("data", (d) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`aiosmtpd did not start: ${err}`)), 15_000);
    child.stdout?.on("data", (d) => {
      if (String(d).includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`aiosmtpd exited ${code}: ${err}`)));
  });
  return {
    port,
    caFile,
    user,
    password,
    async messages() {
      const names = (await readdir(mail)).filter((n) => n.endsWith(".eml")).sort();
      return Promise.all(names.map((n) => readFile(join(mail, n), "utf8")));
    },
    stop: () => stopChild(child),
  };
}

/** Waits until `check` returns a truthy value (polling), or fails after `ms`. */
export async function waitFor<T>(check: () => T | Promise<T>, ms = 15_000, what = "condition"): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
