import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import { vaultBackend } from "../../../src/secrets/backends/vault.ts";
import { createSecretStore } from "../../../src/secrets/index.ts";
import { startVaultServer, type VaultFake } from "../../support/cloud/hashicorp-vault.ts";
import { testBackend } from "../contract.ts";

const TOKEN = `hvs.${Math.random().toString(36).slice(2)}`;
let server: VaultFake;
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
        expect(server.requests.every((r) => r.headers["x-vault-token"] === TOKEN)).toBe(true);
        const posts = server.requests.filter((r) => r.method === "POST");
        expect(posts.map((r) => r.path)).toEqual([
          "/v1/secret/data/wire/production/shop/FTP_PASSWORD",
          "/v1/secret/data/wire/production/shop/FTP_PASSWORD",
        ]);
        expect(JSON.parse(posts[1]!.body)).toEqual({
          data: { value: "wire-value-2", actor: "ci" },
          options: { cas: 1 },
        });
      });
      it("a refused token names the capability and the path, never the token", async () => {
        const backend = vaultBackend({ address: server.address, token: async () => "wrong", env: "development" });
        const store = createSecretStore(backend, { name: "vault", env: "development" });
        const error = (await store.get("shop/A").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_DENIED");
        expect(error.message).toBe(
          'vault: permission denied for read on secret/data/siteloom/development/shop/A; check that the token (VAULT_TOKEN or the store\'s token) is valid and that its policy grants "read" on secret/data/siteloom/development/shop/A',
        );
      });
      it("a policy without write: the write is refused naming create/update and the path", async () => {
        const backend = vaultBackend({
          address: server.address,
          token: async () => server.readOnlyToken,
          env: "development",
          prefix: "ro",
        });
        const store = createSecretStore(backend, { name: "vault", env: "development" });
        const error = (await store.set("shop/A", "v").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_DENIED");
        expect(error.message).toContain("permission denied for create/update on secret/data/ro/development/shop/A");
        expect(error.message).not.toContain(server.readOnlyToken);
      });
      it("a rate-limit quota (429) is retried with back-off", async () => {
        const backend = vaultBackend({
          address: server.address,
          token: async () => TOKEN,
          env: "development",
          prefix: "rl",
        });
        const store = createSecretStore(backend, { name: "vault", env: "development" });
        await store.set("shop/A", "limited-value");
        server.requests.length = 0;
        server.throttleNext(2);
        expect((await store.get("shop/A")).reveal()).toBe("limited-value");
        expect(server.requests.map((r) => r.method)).toEqual(["GET", "GET", "GET"]);
        server.throttleNext(20);
        const error = (await store.get("shop/A").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_BACKEND");
        expect(error.message).toContain(
          "vault: read on secret/data/rl/development/shop/A failed: still refused after several attempts",
        );
        server.throttleNext(0);
      });
      it("an unreachable Vault says where it tried", async () => {
        const backend = vaultBackend({ address: "http://127.0.0.1:9", token: async () => TOKEN, env: "development" });
        const error = (await backend.test().catch((e) => e)) as SiteloomError;
        expect(error.message).toContain("cannot reach Vault at http://127.0.0.1:9");
      });
    },
  });
});
