import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bearer, startTestServer } from "../server/support.ts";
import { useTempDir } from "../support/cli.ts";
import { makeTestCertificates } from "../support/tls.ts";

describe("console: session cookie over TLS", () => {
  it("is Secure, HttpOnly and SameSite=Strict when the server speaks HTTPS, and never echoes the token", async () => {
    const dir = await useTempDir("siteloom-console-tls-");
    const etc = join(dir, "etc");
    await mkdir(etc);
    await makeTestCertificates(etc, join(etc, "ca.crt"));
    const server = await startTestServer(dir, {
      https: { cert: await readFile(join(etc, "server.crt")), key: await readFile(join(etc, "server.key")) },
      watch: false,
    });
    try {
      const signIn = await server.app.inject({
        method: "POST",
        url: "/console/session",
        payload: { token: server.tokens.editor },
      });
      expect(signIn.statusCode).toBe(200);
      const cookie = String(signIn.headers["set-cookie"]);
      expect(cookie).toMatch(/^siteloom_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
      expect(signIn.body).not.toContain(server.tokens.editor);
      const session = cookie.split(";")[0]!;
      const me = await server.app.inject({ method: "GET", url: "/console/session", headers: { cookie: session } });
      expect(me.json()).toMatchObject({ name: "editor", role: "editor", csrf: signIn.json().csrf });
      const out = await server.app.inject({
        method: "DELETE",
        url: "/console/session",
        headers: { cookie: session, "x-csrf-token": signIn.json().csrf },
      });
      expect(out.statusCode).toBe(204);
      expect(String(out.headers["set-cookie"])).toContain("Max-Age=0");
      const after = await server.app.inject({ method: "GET", url: "/console/session", headers: { cookie: session } });
      expect(after.statusCode).toBe(401);
    } finally {
      await server.close();
    }
  });
});

describe("console: sign-in origin and environment limits", () => {
  it("refuses a sign-in posted by another site's page (login CSRF); the console's own page and scripts may", async () => {
    const server = await startTestServer(await useTempDir(), { watch: false });
    try {
      const signIn = (origin?: string) =>
        server.app.inject({
          method: "POST",
          url: "/console/session",
          headers: { host: "console.example:8088", ...(origin ? { origin } : {}) },
          payload: { token: server.tokens.editor },
        });
      for (const origin of ["https://evil.example", "http://console.example:9999", "null"]) {
        const refused = await signIn(origin);
        expect(refused.statusCode, origin).toBe(403);
        expect(refused.headers["set-cookie"], origin).toBeUndefined();
        expect(refused.json().message).toContain("another site");
      }
      expect((await signIn("http://console.example:8088")).statusCode).toBe(200);
      expect((await signIn()).statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("shows costs only for an environment the token may use", async () => {
    const server = await startTestServer(await useTempDir(), { watch: false });
    try {
      const costs = (token: string, query = "") =>
        server.app.inject({ method: "GET", url: `/console/costs${query}`, headers: bearer(token) });
      // limited to production: the default environment (development) is not its to see
      expect((await costs(server.tokens.viewerProduction)).statusCode).toBe(403);
      expect((await costs(server.tokens.viewerProduction, "?env=staging")).statusCode).toBe(403);
      const allowed = await costs(server.tokens.viewerProduction, "?env=production");
      expect(allowed.statusCode).toBe(200);
      expect(allowed.json()).toMatchObject({ env: "production", budget: null });
      expect((await costs(server.tokens.viewer)).json().env).toBe("development");
    } finally {
      await server.close();
    }
  });
});
