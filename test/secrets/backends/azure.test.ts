import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import { azureBackend } from "../../../src/secrets/backends/azure.ts";
import { createSecretStore } from "../../../src/secrets/index.ts";
import { type AzureKeyVaultFake, startAzureKeyVault } from "../../support/cloud/azure-key-vault.ts";
import { testBackend } from "../contract.ts";

let server: AzureKeyVaultFake;
let run = 0;

beforeAll(async () => {
  server = await startAzureKeyVault();
  // DefaultAzureCredential finds the App Service managed identity through these, as it would in Azure
  Object.assign(process.env, server.identityEnv);
});
afterAll(async () => {
  await server?.close();
});

function backend(options: { prefix?: string; env?: string; purge?: boolean } = {}) {
  return azureBackend({
    env: options.env ?? "development",
    vaultUrl: server.vaultUrl,
    prefix: options.prefix ?? `t${run}`,
    caFile: server.caFile,
    // the vault is 127.0.0.1, not a subdomain of the challenge's resource
    verifyChallengeResource: false,
    ...(options.purge === undefined ? {} : { purge: options.purge }),
  });
}

describe("secrets: azure backend", () => {
  testBackend("azure", {
    create() {
      run += 1;
      return backend();
    },
    additionalTests() {
      it("answers the bearer challenge with a managed-identity token; names are mapped and tagged", async () => {
        const store = createSecretStore(backend({ prefix: "wire", env: "production" }), {
          name: "azure",
          env: "production",
          actor: "ci",
        });
        server.vault.requests.length = 0;
        await store.set("secret://blog-eu/FTP_PASSWORD", "wire-value-1");
        await store.rotate("secret://blog-eu/FTP_PASSWORD", "wire-value-2");
        const puts = server.vault.requests.filter((r) => r.method === "PUT");
        expect(puts.map((r) => r.path.replace(/\?.*$/, ""))).toEqual([
          "/secrets/wire--production--blog-deu--FTP-uPASSWORD",
          "/secrets/wire--production--blog-deu--FTP-uPASSWORD",
        ]);
        expect(puts.every((r) => /^Bearer \S+$/.test(String(r.headers.authorization)))).toBe(true);
        expect(server.tokensIssued()).toBeGreaterThanOrEqual(1);
        const versions = server.secrets.get("wire--production--blog-deu--ftp-upassword")!.versions;
        expect(versions.map((v) => [v.value, v.tags["siteloom-version"], v.tags["siteloom-actor"]])).toEqual([
          ["wire-value-1", "1", "ci"],
          ["wire-value-2", "2", "ci"],
        ]);
      });

      it("with purge protection a delete says the secret stays recoverable, and a new one of that name is refused clearly", async () => {
        server.purgeProtection = true;
        try {
          const b = backend({ prefix: "protected" });
          const store = createSecretStore(b, { name: "azure", env: "development" });
          await store.set("secret://shop/KEY", "kept");
          expect(await store.delete("secret://shop/KEY")).toMatch(
            /^soft-deleted protected--development--shop--KEY; the vault refuses purging \(purge protection on\), so it stays recoverable until \d{4}-/,
          );
          const error = (await store.set("secret://shop/KEY", "again").catch((e) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_BACKEND");
          expect(error.message).toContain("a deleted secret of this name is still recoverable");
        } finally {
          server.purgeProtection = false;
        }
      });

      it("a delete says whether it purged or left the secret recoverable (purge: false)", async () => {
        const purged = createSecretStore(backend({ prefix: "purged" }), { name: "azure", env: "development" });
        await purged.set("secret://shop/KEY", "gone");
        expect(await purged.delete("secret://shop/KEY")).toBe(
          "deleted and purged purged--development--shop--KEY; not recoverable",
        );
        const soft = createSecretStore(backend({ prefix: "soft", purge: false }), {
          name: "azure",
          env: "development",
        });
        await soft.set("secret://shop/KEY", "kept");
        expect(await soft.delete("secret://shop/KEY")).toMatch(
          /^soft-deleted soft--development--shop--KEY; recoverable until \d{4}-\d\d-\d\dT.* \(az keyvault secret recover\), purge: false on the store$/,
        );
      });

      it("permission denied names the action and the secret", async () => {
        server.deny.add("getSecret");
        try {
          const store = createSecretStore(backend({ prefix: "denied" }), { name: "azure", env: "development" });
          const error = (await store.get("shop/FTP_PASSWORD").catch((e) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_DENIED");
          expect(error.message).toBe(
            `azure: permission denied for secrets/getSecret on ${server.vaultUrl}/secrets/denied--development--shop--FTP-uPASSWORD; assign a Key Vault role that allows it (Key Vault Secrets Officer/User) on ${server.vaultUrl}`,
          );
        } finally {
          server.deny.clear();
        }
      });

      it("reads sent at once by a new client share one challenge and one token, then go in parallel", async () => {
        const writer = createSecretStore(backend({ prefix: "burst" }), { name: "azure", env: "development" });
        for (let i = 0; i < 20; i++) await writer.set(`secret://site-${i}/KEY`, `burst-${i}`);
        const b = backend({ prefix: "burst" });
        const vaultBefore = server.vault.requests.length;
        const values = await Promise.all(Array.from({ length: 20 }, (_, i) => b.get(`site-${i}/KEY`)));
        expect(values.map((v) => v?.value)).toEqual(Array.from({ length: 20 }, (_, i) => `burst-${i}`));
        const sent = server.vault.requests.slice(vaultBefore);
        // one request without a token (the challenge), then the 20 reads with one
        expect(sent.filter((r) => !r.headers.authorization)).toHaveLength(1);
        expect(sent).toHaveLength(21);
        expect(new Set(sent.filter((r) => r.headers.authorization).map((r) => r.headers.authorization)).size).toBe(1);
      });

      it("429 with Retry-After is retried", async () => {
        const store = createSecretStore(backend({ prefix: "throttle" }), { name: "azure", env: "development" });
        await store.set("secret://shop/KEY", "after-throttling");
        server.throttleNext(2);
        expect((await store.get("shop/KEY")).reveal()).toBe("after-throttling");
      });

      it("an untrusted certificate is one line naming the vault", async () => {
        const store = createSecretStore(
          azureBackend({ env: "development", vaultUrl: server.vaultUrl, verifyChallengeResource: false }),
          { name: "azure", env: "development" },
        );
        const error = (await store.get("shop/KEY").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_BACKEND");
        expect(error.message).toContain(`azure: cannot reach Azure Key Vault ${server.vaultUrl}`);
        expect(error.message).not.toContain("\n");
      });
    },
  });
});
