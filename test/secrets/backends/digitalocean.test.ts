import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import { digitaloceanBackend } from "../../../src/secrets/backends/digitalocean.ts";
import { createSecretStore } from "../../../src/secrets/index.ts";
import { type DigitalOceanAppsFake, startDigitalOceanApps } from "../../support/cloud/digitalocean-apps.ts";
import { testBackend } from "../contract.ts";

let server: DigitalOceanAppsFake;

beforeAll(async () => {
  server = await startDigitalOceanApps();
});
afterAll(async () => {
  await server?.close();
});

function backend(options: { token?: string; runtimeEnv?: Record<string, string | undefined> } = {}) {
  return digitaloceanBackend({
    appId: server.appId,
    endpoint: server.url,
    token: async () => options.token ?? server.token,
    // reads come from the environment the app's containers get once the spec is deployed
    runtimeEnv: options.runtimeEnv ?? server.runtimeEnv,
  });
}

describe("secrets: digitalocean backend", () => {
  testBackend("digitalocean", {
    async create() {
      // a clean app spec per test: drop what earlier tests wrote
      const b = backend();
      for (const s of await b.list()) await b.delete!(`${s.scope}/${s.name}`, { actor: "test" });
      return b;
    },
    additionalTests() {
      it("writes app-level env vars of type SECRET through the whole spec; the API hands back only ciphertext", async () => {
        const store = createSecretStore(backend(), { name: "do", env: "production" });
        await store.set("secret://blog-eu/FTP_PASSWORD", "wire-value-1");
        const env = server.spec().envs!.find((e) => e.key === "SITELOOM_SECRET_BLOG_EU__FTP_PASSWORD")!;
        expect(env).toMatchObject({ scope: "RUN_TIME", type: "SECRET" });
        expect(env.value).toMatch(/^EV\[1:/);
        expect(server.spec().envs!.find((e) => e.key === "NODE_ENV")).toMatchObject({ value: "production" });
        expect(server.runtimeEnv.SITELOOM_SECRET_BLOG_EU__FTP_PASSWORD).toBe("wire-value-1");
      });

      it("outside the app a read says the value is write-only", async () => {
        const store = createSecretStore(backend({ runtimeEnv: {} }), { name: "do", env: "production" });
        await store.set("secret://shop/KEY", "only-inside");
        const error = (await store.get("shop/KEY").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_BACKEND");
        expect(error.message).toContain("the API returns it encrypted: it is readable only inside the app");
        expect(error.message).not.toContain("only-inside");
      });

      it("writes waiting for the spec go into one read and one write of it (one deployment, not 20)", async () => {
        const store = createSecretStore(backend(), { name: "do", env: "production" });
        await store.set("secret://shop/FIRST", "first-value");
        const before = server.counts();
        const keys = Array.from({ length: 20 }, (_, i) => `secret://site-${i}/FTP_PASSWORD`);
        await Promise.all(keys.map((k, i) => store.set(k, `value-${i}`)));
        const after = server.counts();
        expect([after.GET! - before.GET!, after.PUT! - before.PUT!]).toEqual([1, 1]);
        for (let i = 0; i < 20; i++) {
          expect(server.runtimeEnv[`SITELOOM_SECRET_SITE_${i}__FTP_PASSWORD`]).toBe(`value-${i}`);
        }
        expect(server.runtimeEnv.SITELOOM_SECRET_SHOP__FIRST).toBe("first-value");
      });

      it("a token without app:update: permission denied names the action and the app, no value", async () => {
        const store = createSecretStore(backend(), { name: "do", env: "production" });
        server.deny.add("PUT");
        try {
          const error = (await store.set("secret://shop/DENIED", "denied-value").catch((e) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_DENIED");
          expect(error.message).toBe(
            `digitalocean: permission denied for apps:update on /v2/apps/${server.appId}; give the token the app:read and app:update scopes`,
          );
          expect(error.message).not.toContain("denied-value");
        } finally {
          server.deny.clear();
        }
      });

      it("rate limits past the retries are one line saying so", async () => {
        server.throttleNext(100);
        try {
          const error = (await backend()
            .test()
            .catch((e) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_BACKEND");
          expect(error.message).toBe(
            `digitalocean: apps:read on /v2/apps/${server.appId} failed: still refused after several attempts with back-off (429 API Rate limit exceeded.); try again later`,
          );
        } finally {
          server.throttleNext(0);
        }
      });

      it("a refused token is a locked error without the token; rate limits are retried", async () => {
        const wrong = `dop_v1_${"0".repeat(64)}`;
        const error = (await backend({ token: wrong })
          .test()
          .catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_LOCKED");
        expect(error.message).not.toContain(wrong);
        server.throttleNext(2);
        expect(await backend().test()).toContain("token accepted");
      });
    },
  });
});
