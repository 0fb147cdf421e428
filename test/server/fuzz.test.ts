import { mkdtemp, realpath, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, LITERAL_PASSWORD, startTestServer, type TestServer } from "./support.ts";

let s: TestServer;
let dir: string;
let port: number;
const SECRET_VALUE = `fuzz-secret-${Date.now()}-${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "siteloom-server-fuzz-")));
  s = await startTestServer(dir);
  await s.app.listen({ host: "127.0.0.1", port: 0 });
  const address = s.app.server.address();
  port = typeof address === "object" && address ? address.port : 0;
  const put = await s.app.inject({
    method: "PUT",
    url: "/secrets/shop/FTP_PASSWORD?env=development",
    headers: { ...bearer(s.tokens.admin), "content-type": "application/json" },
    payload: JSON.stringify({ value: SECRET_VALUE }),
  });
  expect(put.statusCode).toBe(200);
});

afterAll(async () => {
  await s?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A small deterministic PRNG (mulberry32) so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ["GET", "PATCH", "PUT", "POST", "DELETE", "OPTIONS", "HEAD"];
const PATHS = [
  "/config",
  "/config?site=shop",
  "/config?site=../../etc",
  "/config?site=SHOP&env=Prod",
  "/config?env=production&env=staging",
  "/config?site=%00",
  "/config?site=shop&env=development&extra=1",
  "/config/versions/0",
  "/config/versions/-1",
  "/config/versions/abc",
  "/config/versions/99999999999999999999",
  "/config/versions?limit=100000",
  "/config/versions?limit=abc",
  "/config/rollback/1.5",
  "/config/rollback/%2e%2e",
  "/secrets?env=development",
  "/secrets?scope=../x",
  "/secrets/shop/FTP_PASSWORD",
  "/secrets/shop/FTP_PASSWORD/history",
  "/secrets/shop/FTP_PASSWORD/rotate",
  "/secrets/../../etc/passwd",
  "/secrets/shop/ftp_password",
  "/secrets/%2e%2e/X",
  "/audit?since=not-a-date",
  "/audit?limit=0",
  "/audit?action=secrets",
  "/runs",
  "/runs?status=weird",
  "/tokens",
  "/tokens/..",
  "/tokens/admin%00",
  "/nonexistent",
  "//config",
  "/config/",
  "/health?x=1",
];

function randomBody(rand: () => number): { body: string | Buffer | undefined; type: string | undefined } {
  const pick = Math.floor(rand() * 16);
  switch (pick) {
    case 0:
      return { body: "{not json", type: "application/json" };
    case 1:
      return { body: '{"patch": ', type: "application/merge-patch+json" };
    case 2:
      return { body: JSON.stringify({ value: 42 }), type: "application/json" };
    case 3:
      return { body: JSON.stringify({ value: "" }), type: "application/json" };
    case 4:
      return { body: JSON.stringify({ deploy: { parallel: "many" } }), type: "application/merge-patch+json" };
    case 5:
      return { body: JSON.stringify({ unknownSection: { a: 1 } }), type: "application/json" };
    case 6:
      return { body: Buffer.alloc(300 * 1024, 97), type: "application/json" };
    case 7:
      return {
        body: JSON.stringify({ __proto__: { admin: true }, constructor: { prototype: {} } }).replace(
          "{",
          '{"__proto__":{"x":1},',
        ),
        type: "application/json",
      };
    case 8:
      return { body: "null", type: "application/json" };
    case 9:
      return { body: "[1,2,3]", type: "application/json" };
    case 10:
      return { body: `${"[".repeat(5000)}${"]".repeat(5000)}`, type: "application/json" };
    case 11:
      return { body: "value=x", type: "application/x-www-form-urlencoded" };
    case 12:
      return { body: "\u0000\u0001\u0002", type: "text/plain" };
    case 13:
      return { body: JSON.stringify({ sites: ["shop", "shop"], steps: ["nope"] }), type: "application/json" };
    case 14:
      return { body: JSON.stringify({ remote: { password: 12 }, domain: "not a domain" }), type: "application/json" };
    default:
      return { body: undefined, type: undefined };
  }
}

function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", (error) => {
      // the server may close the connection on an oversize body after answering; that is not a 5xx
      if ((error as NodeJS.ErrnoException).code === "ECONNRESET" || (error as NodeJS.ErrnoException).code === "EPIPE") {
        resolve({ status: 0, body: "" });
      } else reject(error);
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe("server: malformed request fuzz (bounded, loopback)", () => {
  it("answers 500 malformed requests with 4xx, never 5xx, never a secret", async () => {
    const rand = prng(20261125);
    const tokens = [
      s.tokens.admin,
      s.tokens.editor,
      s.tokens.viewer,
      s.tokens.revoked,
      "slt_",
      `${s.tokens.admin}x`,
      s.tokens.admin.slice(0, -1),
      "",
    ];
    const statuses = new Map<number, number>();
    const forbidden = [SECRET_VALUE, LITERAL_PASSWORD, ...Object.values(s.tokens)];
    for (let i = 0; i < 500; i++) {
      const method = METHODS[Math.floor(rand() * METHODS.length)]!;
      const path = PATHS[Math.floor(rand() * PATHS.length)]!;
      const token = tokens[Math.floor(rand() * tokens.length)]!;
      const { body, type } = randomBody(rand);
      const headers: Record<string, string> = {};
      const auth = rand();
      if (auth < 0.7) headers.authorization = `Bearer ${token}`;
      else if (auth < 0.8) headers.authorization = `Basic ${Buffer.from("a:b").toString("base64")}`;
      else if (auth < 0.85) headers.authorization = "Bearer";
      if (type && method !== "GET" && method !== "HEAD") headers["content-type"] = type;
      const r = await send(method, path, headers, method === "GET" || method === "HEAD" ? undefined : body);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect(r.status, `${method} ${path} → ${r.status} ${r.body.slice(0, 200)}`).toBeLessThan(500);
      for (const value of forbidden) {
        expect(r.body.includes(value), `${method} ${path} leaked a secret`).toBe(false);
      }
    }
    // the loop really exercised the error paths
    const codes = [...statuses.keys()];
    expect(codes).toEqual(expect.arrayContaining([400, 401, 404]));
  });
});
