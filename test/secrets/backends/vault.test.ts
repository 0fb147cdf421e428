import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import { createSecretStore, vaultBackend } from "../../../src/secrets/index.ts";
import { testBackend } from "../contract.ts";
import { startVaultServer } from "../support/vault-server.ts";

const TOKEN = `hvs.${Math.random().toString(36).slice(2)}`;
let server: Awaited<ReturnType<typeof startVaultServer>>;
let run = 0;

beforeAll(async () => {
  server = await startVaultServer(TOKEN);
});
afterAll(async () => {
  await server.close();
});

describe("secrets: vault backend", () => {
  testBackend("vault", {
    create() {
      // a fresh prefix per test: a clean store on the same server
      run += 1;
      return vaultBackend({ address: server.address, token: async () => TOKEN, env: "development", prefix: `t${run}` });
    },
    additionalTests() {
      it("speaks KV v2: token header, data paths under <prefix>/<env>, check-and-set on rotation", async () => {
        const backend = vaultBackend({
          address: server.address,
          token: async () => TOKEN,
          env: "production",
          prefix: "wire",
        });
        const store = createSecretStore(backend, { name: "vault", env: "production", actor: "ci" });
        server.requests.length = 0;
        await store.set("secret://shop/FTP_PASSWORD", "wire-value-1");
        await store.rotate("secret://shop/FTP_PASSWORD", "wire-value-2");
        expect(server.requests.every((r) => r.token === TOKEN)).toBe(true);
        const posts = server.requests.filter((r) => r.method === "POST");
        expect(posts.map((r) => r.path)).toEqual([
          "/v1/secret/data/wire/production/shop/FTP_PASSWORD",
          "/v1/secret/data/wire/production/shop/FTP_PASSWORD",
        ]);
        expect(posts[1]!.body).toEqual({ data: { value: "wire-value-2", actor: "ci" }, options: { cas: 1 } });
      });
      it("a refused token is a clear locked error", async () => {
        const backend = vaultBackend({ address: server.address, token: async () => "wrong", env: "development" });
        const store = createSecretStore(backend, { name: "vault", env: "development" });
        const error = (await store.get("shop/A").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_LOCKED");
        expect(error.message).toContain("refused the token (403)");
        expect(error.message).not.toContain(TOKEN);
      });
      it("an unreachable Vault says where it tried", async () => {
        const backend = vaultBackend({ address: "http://127.0.0.1:9", token: async () => TOKEN, env: "development" });
        const error = (await backend.test().catch((e) => e)) as SiteloomError;
        expect(error.message).toContain("cannot reach Vault at http://127.0.0.1:9");
      });
    },
  });
});
