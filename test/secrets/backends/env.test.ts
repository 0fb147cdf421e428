import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SiteloomError } from "../../../src/errors.ts";
import { envBackend } from "../../../src/secrets/backends/env.ts";
import { createSecretStore } from "../../../src/secrets/index.ts";
import { useTempDir } from "../../support/cli.ts";
import { testBackend } from "../contract.ts";

describe("secrets: env backend", () => {
  // the seed is spread over the three sources a container may use: variables, *_FILE variables, a secrets dir
  testBackend("env", {
    async create(seed) {
      const dir = await useTempDir("siteloom-env-");
      const secretsDir = join(dir, "run-secrets");
      await mkdir(join(secretsDir, "global"), { recursive: true });
      const env: Record<string, string> = {
        SITELOOM_SECRET_SHOP__FTP_PASSWORD: seed["shop/FTP_PASSWORD"]!,
        UNRELATED: "x",
      };
      await writeFile(join(dir, "token"), `${seed["shop/API_TOKEN"]}\n`);
      env.SITELOOM_SECRET_SHOP__API_TOKEN_FILE = join(dir, "token");
      await writeFile(join(secretsDir, "blog-eu.FTP_PASSWORD"), `${seed["blog-eu/FTP_PASSWORD"]}\r\n`);
      await writeFile(join(secretsDir, "global", "OPENAI_API_KEY"), seed["global/OPENAI_API_KEY"]!);
      return envBackend({ env, secretsDir });
    },
    additionalTests(ctx) {
      it("names the variable and file to use when a value is missing or written to", async () => {
        const missing = (await ctx.store.get("secret://shop-eu/DB_PASS").catch((e) => e)) as SiteloomError;
        expect(missing.message).toContain("SITELOOM_SECRET_SHOP_EU__DB_PASS");
        expect(missing.message).toContain("_FILE");
        const write = (await ctx.store.set("secret://shop-eu/DB_PASS", "v-1234").catch((e) => e)) as SiteloomError;
        expect(write.message).toMatch(/read-only.*SITELOOM_SECRET_SHOP_EU__DB_PASS/);
      });
      it("has no old versions", async () => {
        expect(
          ((await ctx.store.get("secret://shop/FTP_PASSWORD?version=2").catch((e) => e)) as SiteloomError).code,
        ).toBe("ERR_SECRET_NOT_FOUND");
      });
    },
  });

  it("prefers the variable over *_FILE over the secrets directory, and trims exactly one newline", async () => {
    const dir = await useTempDir("siteloom-env2-");
    await writeFile(join(dir, "f"), "from-file\n\n");
    await writeFile(join(dir, "shop.A"), "from-dir\n");
    const store = (env: Record<string, string>) =>
      createSecretStore(envBackend({ env, secretsDir: dir }), { name: "env", env: "production" });
    expect(
      (
        await store({ SITELOOM_SECRET_SHOP__A: "from-var", SITELOOM_SECRET_SHOP__A_FILE: join(dir, "f") }).get("shop/A")
      ).reveal(),
    ).toBe("from-var");
    expect((await store({ SITELOOM_SECRET_SHOP__A_FILE: join(dir, "f") }).get("shop/A")).reveal()).toBe("from-file\n");
    expect((await store({}).get("shop/A")).reveal()).toBe("from-dir");
    const broken = (await store({ SITELOOM_SECRET_SHOP__A_FILE: join(dir, "nope") })
      .get("shop/A")
      .catch((e) => e)) as SiteloomError;
    expect(broken.message).toContain("SITELOOM_SECRET_SHOP__A_FILE names");
  });
});
