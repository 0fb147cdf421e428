import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import { gcpBackend } from "../../../src/secrets/backends/gcp.ts";
import { createSecretStore } from "../../../src/secrets/index.ts";
import { useTempDir } from "../../support/cli.ts";
import { type GcpSecretManagerFake, startGcpSecretManager } from "../../support/cloud/gcp-secret-manager.ts";
import { testBackend } from "../contract.ts";

let server: GcpSecretManagerFake;
let keyFile: string;
let run = 0;

beforeAll(async () => {
  server = await startGcpSecretManager();
  keyFile = join(await useTempDir("siteloom-gcp-"), "service-account.json");
  await writeFile(keyFile, JSON.stringify(server.serviceAccount), { mode: 0o600 });
});
afterAll(async () => {
  await server?.close();
});

function options(o: { prefix?: string; env?: string; keyFilename?: string } = {}) {
  return {
    env: o.env ?? "development",
    project: server.project,
    prefix: o.prefix ?? `t${run}`,
    keyFilename: o.keyFilename ?? keyFile,
    apiEndpoint: "127.0.0.1",
    port: server.port,
    protocol: "http" as const,
  };
}

function backend(o: { prefix?: string; env?: string; keyFilename?: string } = {}) {
  return gcpBackend(options(o));
}

describe("secrets: gcp backend", () => {
  testBackend("gcp", {
    create() {
      run += 1;
      return backend();
    },
    additionalTests() {
      it("speaks the v1 REST mapping with a signed service-account JWT; ids are mapped reversibly and labelled", async () => {
        const store = createSecretStore(backend({ prefix: "wire", env: "production" }), {
          name: "gcp",
          env: "production",
        });
        server.requests.length = 0;
        await store.set("secret://blog-eu/FTP_PASSWORD", "wire-value-1");
        await store.rotate("secret://blog-eu/FTP_PASSWORD", "wire-value-2");
        const lines = server.requests.map((r) => `${r.method} ${r.path.replace(/\?.*$/, "")}`);
        const id = "wire--production--blog-deu--FTP-uPASSWORD";
        expect(lines).toContain(`POST /v1/projects/${server.project}/secrets`);
        expect(lines).toContain(`POST /v1/projects/${server.project}/secrets/${id}:addVersion`);
        expect(
          server.requests.every((r) => /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(String(r.headers.authorization))),
        ).toBe(true);
        const secret = server.secrets.get(id)!;
        expect(secret.labels).toEqual({
          "siteloom-scope": "blog-eu",
          "siteloom-name": "ftp_password",
          "siteloom-env": "production",
        });
        expect(secret.replication).toEqual({ automatic: {} });
        expect(secret.versions.map((v) => Buffer.from(v.data, "base64").toString())).toEqual([
          "wire-value-1",
          "wire-value-2",
        ]);
      });

      it("disabled and destroyed versions are reported as such", async () => {
        const store = createSecretStore(backend({ prefix: "states" }), { name: "gcp", env: "development" });
        await store.set("secret://shop/KEY", "one");
        await store.rotate("secret://shop/KEY", "two");
        await store.rotate("secret://shop/KEY", "three");
        const secret = server.secrets.get("states--development--shop--KEY")!;
        secret.versions[0]!.state = "DESTROYED";
        secret.versions[1]!.state = "DISABLED";
        const history = await store.history("secret://shop/KEY");
        expect(history.map((h) => [h.version, h.state])).toEqual([
          [1, "destroyed"],
          [2, "disabled"],
          [3, undefined],
        ]);
        const error = (await store.get("secret://shop/KEY?version=1").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_NOT_FOUND");
        expect(error.message).toContain("version 1 of secret://shop/KEY is destroyed in Google Secret Manager");
        expect((await store.get("secret://shop/KEY")).reveal()).toBe("three");
      });

      it("a key the service did not issue is refused: a locked error", async () => {
        const other = await startGcpSecretManager();
        const wrongKey = join(keyFile, "..", "other.json");
        await writeFile(
          wrongKey,
          JSON.stringify({ ...other.serviceAccount, client_email: server.serviceAccount.client_email }),
        );
        await other.close();
        const store = createSecretStore(backend({ keyFilename: wrongKey }), { name: "gcp", env: "development" });
        const error = (await store.get("shop/A").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_LOCKED");
        expect(error.message).toContain("refused the credentials");
      });

      it("permission denied names the permission and the secret", async () => {
        server.deny.add("secretmanager.versions.access");
        try {
          const store = createSecretStore(backend({ prefix: "denied" }), { name: "gcp", env: "development" });
          const error = (await store.get("shop/FTP_PASSWORD").catch((e) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_DENIED");
          expect(error.message).toBe(
            `gcp: permission denied for secretmanager.versions.access on projects/${server.project}/secrets/denied--development--shop--FTP-uPASSWORD/versions/latest; grant it to the account siteloom runs as (IAM on project ${server.project})`,
          );
        } finally {
          server.deny.clear();
        }
      });

      it("quota errors are retried with back-off", async () => {
        const store = createSecretStore(backend({ prefix: "quota" }), { name: "gcp", env: "development" });
        await store.set("secret://shop/KEY", "after-quota");
        server.throttleNext(2);
        expect((await store.list("shop")).map((s) => s.name)).toEqual(["KEY"]);
      });

      it("a quota still exhausted after the retries is one line naming the action and the secret", async () => {
        const store = createSecretStore(gcpBackend({ ...options(), prefix: "quota", attempts: 2 }), {
          name: "gcp",
          env: "development",
        });
        server.throttleNext(2);
        try {
          const error = (await store.get("shop/KEY").catch((e) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_BACKEND");
          expect(error.message).toBe(
            `gcp: secretmanager.versions.access on projects/${server.project}/secrets/quota--development--shop--KEY/versions/latest failed: quota exhausted after several attempts; try again later`,
          );
        } finally {
          server.throttleNext(0);
        }
      });
    },
  });
});
