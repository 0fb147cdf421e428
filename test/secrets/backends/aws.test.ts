import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import { awsBackend } from "../../../src/secrets/backends/aws.ts";
import { createSecretStore } from "../../../src/secrets/index.ts";
import { type AwsSecretsManagerFake, startAwsSecretsManager } from "../../support/cloud/aws-secrets-manager.ts";
import { testBackend } from "../contract.ts";

let server: AwsSecretsManagerFake;
let run = 0;

beforeAll(async () => {
  server = await startAwsSecretsManager();
});
afterAll(async () => {
  await server?.close();
});

function backend(
  options: { prefix?: string; secretAccessKey?: string; env?: string; recoveryWindowDays?: number } = {},
) {
  return awsBackend({
    env: options.env ?? "development",
    ...(options.recoveryWindowDays ? { recoveryWindowDays: options.recoveryWindowDays } : {}),
    region: server.credentials.region,
    endpoint: server.url,
    prefix: options.prefix ?? `t${run}`,
    credentials: {
      accessKeyId: server.credentials.accessKeyId,
      secretAccessKey: options.secretAccessKey ?? server.credentials.secretAccessKey,
    },
  });
}

describe("secrets: aws backend", () => {
  testBackend("aws", {
    create() {
      run += 1;
      return backend();
    },
    additionalTests() {
      it("speaks JSON 1.1 with SigV4: numbered version ids, AWSCURRENT/AWSPREVIOUS, tags with scope and name", async () => {
        const store = createSecretStore(backend({ prefix: "wire", env: "production" }), {
          name: "aws",
          env: "production",
        });
        server.requests.length = 0;
        await store.set("secret://shop/FTP_PASSWORD", "wire-value-1");
        await store.rotate("secret://shop/FTP_PASSWORD", "wire-value-2");
        const targets = server.requests.map((r) => r.headers["x-amz-target"]);
        expect(targets).toContain("secretsmanager.CreateSecret");
        expect(targets).toContain("secretsmanager.PutSecretValue");
        expect(server.requests.every((r) => String(r.headers.authorization).startsWith("AWS4-HMAC-SHA256 "))).toBe(
          true,
        );
        const secret = server.secrets.get("wire/production/shop/FTP_PASSWORD")!;
        expect(secret.tags).toEqual([
          { Key: "siteloom:scope", Value: "shop" },
          { Key: "siteloom:name", Value: "FTP_PASSWORD" },
          { Key: "siteloom:env", Value: "production" },
        ]);
        const versions = [...secret.versions.values()].map((v) => [v.id, [...v.stages], v.value]);
        expect(versions).toEqual([
          ["siteloom-version-0000000000000001", ["AWSPREVIOUS"], "wire-value-1"],
          ["siteloom-version-0000000000000002", ["AWSCURRENT"], "wire-value-2"],
        ]);
      });

      it("a wrong secret key fails the signature check: a locked error without the key", async () => {
        const wrong = `wrong-${Math.random().toString(36).slice(2)}`;
        const store = createSecretStore(backend({ secretAccessKey: wrong }), { name: "aws", env: "development" });
        const error = (await store.get("shop/A").catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_LOCKED");
        expect(error.message).toContain("refused the credentials (InvalidSignatureException)");
        expect(error.message).not.toContain(wrong);
      });

      it("a delete says whether the secret is restorable, and until when", async () => {
        const now = createSecretStore(backend({ prefix: "now" }), { name: "aws", env: "development" });
        await now.set("shop/KEY", "gone-value");
        expect(await now.delete("shop/KEY")).toBe(
          "deleted now/development/shop/KEY with every version at once (no recovery window: recoveryWindowDays is not set); not recoverable",
        );
        const later = createSecretStore(backend({ prefix: "later", recoveryWindowDays: 7 }), {
          name: "aws",
          env: "development",
        });
        await later.set("shop/KEY", "kept-value");
        const said = await later.delete("shop/KEY");
        const deletion = /on (\S+); restorable until then/.exec(said)?.[1];
        expect(said).toContain("scheduled later/development/shop/KEY for deletion on ");
        expect(said).toContain("(aws secretsmanager restore-secret --secret-id later/development/shop/KEY)");
        // the date AWS gave: 7 days from now
        expect(Math.round((Date.parse(deletion!) - Date.now()) / 86_400_000)).toBe(7);
      });

      it("permission denied names the action and the secret", async () => {
        server.deny.add("secretsmanager:GetSecretValue");
        try {
          const store = createSecretStore(backend({ prefix: "denied" }), { name: "aws", env: "development" });
          const error = (await store.get("shop/FTP_PASSWORD").catch((e) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_DENIED");
          expect(error.message).toBe(
            "aws: permission denied for secretsmanager:GetSecretValue on denied/development/shop/FTP_PASSWORD; grant it in the IAM policy of the credentials siteloom runs with",
          );
        } finally {
          server.deny.clear();
        }
      });

      it("throttling is retried with back-off until it passes", async () => {
        const store = createSecretStore(backend({ prefix: "throttle" }), { name: "aws", env: "development" });
        await store.set("secret://shop/KEY", "after-throttling");
        const before = server.requests.length;
        server.throttleNext(2);
        expect((await store.get("shop/KEY")).reveal()).toBe("after-throttling");
        expect(server.requests.length - before).toBe(3);
      });

      it("getAll reads a whole environment with BatchGetSecretValue, 20 a page", async () => {
        const b = backend({ prefix: "batch" });
        const store = createSecretStore(b, { name: "aws", env: "development" });
        for (let i = 0; i < 25; i++) await store.set(`secret://site-${i}/FTP_PASSWORD`, `pw-${i}`);
        const before = server.counts().BatchGetSecretValue ?? 0;
        const all = await b.getAll!();
        expect(all.size).toBe(25);
        expect(all.get("site-7/FTP_PASSWORD")).toEqual({ value: "pw-7", version: 1 });
        expect((server.counts().BatchGetSecretValue ?? 0) - before).toBe(2);
      });

      it("a 65,537-byte value is refused by the service with one line that does not echo it", async () => {
        const store = createSecretStore(backend({ prefix: "big" }), { name: "aws", env: "development" });
        const value = "v".repeat(65_537);
        const error = (await store.set("secret://shop/BIG", value).catch((e) => e)) as SiteloomError;
        expect(error.code).toBe("ERR_SECRET_BACKEND");
        expect(error.message).toContain("secretsmanager:CreateSecret on big/development/shop/BIG failed");
        expect(error.message).not.toContain("vvvvvvvvvv");
      });
    },
  });
});
