import { describe, expect, it } from "vitest";
import { useTempDir } from "../support/cli.ts";
import { bearer, startTestServer } from "./support.ts";

describe("server: rate limits", () => {
  it("limits each token, then each address, with 429 and Retry-After", async () => {
    const dir = await useTempDir();
    const s = await startTestServer(dir, { rateLimit: { perToken: 3, perAddress: 8, windowMs: 60_000 } });
    try {
      const get = (token?: string) =>
        s.app.inject({ method: "GET", url: "/config/status", headers: token ? bearer(token) : {} });
      for (let i = 0; i < 3; i++) expect((await get(s.tokens.viewer)).statusCode).toBe(200);
      const limited = await get(s.tokens.viewer);
      expect(limited.statusCode).toBe(429);
      expect(limited.json().code).toBe("ERR_RATE_LIMITED");
      expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
      // another token from the same address still has its own budget...
      expect((await get(s.tokens.admin)).statusCode).toBe(200);
      // ...until the address budget (8 here) is spent, whatever the token, even without one
      const rest = [await get(s.tokens.admin), await get(s.tokens.editor), await get(s.tokens.editor)];
      expect(rest.map((r) => r.statusCode)).toEqual([200, 200, 200]);
      const flood = await get();
      expect(flood.statusCode).toBe(429);
      expect(flood.json().message).toContain("this address");
    } finally {
      await s.close();
    }
  });
});
