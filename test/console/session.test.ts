import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startTestServer } from "../server/support.ts";
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
