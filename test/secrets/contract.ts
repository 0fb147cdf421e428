import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { beforeEach, describe, expect, it } from "vitest";
import { SiteloomError } from "../../src/errors.ts";
import { createSecretStore, type SecretBackend, type SecretStore } from "../../src/secrets/index.ts";

export interface ContractContext {
  store: SecretStore;
  backend: SecretBackend;
}

export interface TestBackendOptions {
  /**
   * Builds a fresh backend for each test. `seed` holds the values a read-only backend must already contain
   * (`scope/NAME` → value); a writable backend gets them through `set`.
   */
  create(seed: Record<string, string>): Promise<SecretBackend> | SecretBackend;
  additionalTests?: (ctx: ContractContext) => void;
}

/** Values generated per run: the contract never relies on a fixed credential. */
function seedValues(): Record<string, string> {
  const rand = () => Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
  return {
    "shop/FTP_PASSWORD": `pw-${rand()}`,
    "shop/API_TOKEN": `tok-${rand()}`,
    "blog-eu/FTP_PASSWORD": `blog-${rand()}\twith tab and ü`,
    "global/OPENAI_API_KEY": `sk-${rand()}`,
  };
}

/**
 * The one contract every backend passes (unstorage `testDriver`): the read part for all, the write part for
 * writable backends, and read-only errors that say how to set a value for the others.
 */
export function testBackend(name: string, options: TestBackendOptions): void {
  const ctx = {} as ContractContext & { seed: Record<string, string> };

  beforeEach(async () => {
    ctx.seed = seedValues();
    const backend = await options.create(ctx.seed);
    ctx.backend = backend;
    ctx.store = createSecretStore(backend, { name, env: "development", actor: "tester" });
    if (backend.capabilities.write) {
      for (const [key, value] of Object.entries(ctx.seed)) await ctx.store.set(`secret://${key}`, value);
    }
  });

  describe("contract: read", () => {
    it("gets every value as a Secret that prints as ****", async () => {
      for (const [key, value] of Object.entries(ctx.seed)) {
        const secret = await ctx.store.get(`secret://${key}`);
        expect(secret.reveal()).toBe(value);
        expect(String(secret)).toBe("****");
        expect(`${secret}`).toBe("****");
        expect(JSON.stringify({ secret })).toBe('{"secret":"****"}');
        expect(inspect(secret)).not.toContain(value);
      }
    });

    it("accepts references without the scheme", async () => {
      expect((await ctx.store.get("shop/FTP_PASSWORD")).reveal()).toBe(ctx.seed["shop/FTP_PASSWORD"]);
    });

    it("reports a missing secret with the store, the environment and how to set it", async () => {
      const error = await ctx.store.get("secret://shop/MISSING_ONE").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SiteloomError);
      expect((error as SiteloomError).code).toBe("ERR_SECRET_NOT_FOUND");
      expect((error as SiteloomError).message).toContain(
        `secret://shop/MISSING_ONE is not set in store "${name}" (development)`,
      );
      expect((error as SiteloomError).message).toMatch(
        /run siteloom secrets set shop\/MISSING_ONE|SITELOOM_SECRET_SHOP__MISSING_ONE/,
      );
    });

    it("rejects invalid references clearly", async () => {
      for (const bad of [
        "secret://shop/lower",
        "secret://Shop/X",
        "secret://shop",
        "secret://a/b/C",
        "secret://shop/X?v=1",
      ]) {
        const error = await ctx.store.get(bad).catch((e: unknown) => e);
        expect((error as SiteloomError).code).toBe("ERR_REFERENCE_INVALID");
        expect((error as SiteloomError).message).toContain("expected secret://");
      }
    });

    it("lists names and versions without values", async () => {
      const all = await ctx.store.list();
      const keys = all.map((s) => `${s.scope}/${s.name}`);
      for (const key of Object.keys(ctx.seed)) expect(keys).toContain(key);
      const text = JSON.stringify(all);
      for (const value of Object.values(ctx.seed)) expect(text).not.toContain(value);
      const shop = await ctx.store.list("shop");
      expect(shop.map((s) => s.name).sort()).toEqual(["API_TOKEN", "FTP_PASSWORD"]);
      expect(shop.every((s) => s.version >= 1)).toBe(true);
    });

    it("passes its reachability test", async () => {
      expect(await ctx.store.test()).toMatch(/\S/);
    });

    it("gives history without values", async () => {
      const h = await ctx.store.history("secret://shop/FTP_PASSWORD");
      expect(h.length).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(h)).not.toContain(ctx.seed["shop/FTP_PASSWORD"]);
    });
  });

  describe("contract: write", () => {
    it("writes, rotates, keeps history, reads old versions and rolls back — or refuses as read-only", async () => {
      const ref = "secret://shop/FTP_PASSWORD";
      if (!ctx.backend.capabilities.write) {
        for (const attempt of [
          () => ctx.store.set(ref, "new-value-1"),
          () => ctx.store.rotate(ref, "new-value-2"),
          () => ctx.store.delete(ref),
          () => ctx.store.rollback(ref, 1),
        ]) {
          const error = (await attempt().catch((e: unknown) => e)) as SiteloomError;
          expect(error.code).toBe("ERR_SECRET_READ_ONLY");
          expect(error.message).toContain("read-only");
          expect(error.message).toContain("to set it");
        }
        expect((await ctx.store.get(ref)).reveal()).toBe(ctx.seed["shop/FTP_PASSWORD"]);
        return;
      }
      if (!ctx.backend.capabilities.history) {
        // a service without versions: one current value that set/rotate replace
        expect(await ctx.store.rotate(ref, "second-value")).toBe(1);
        expect((await ctx.store.get(ref)).reveal()).toBe("second-value");
        const missing = await ctx.store.rotate("secret://shop/NEVER_SET", "x-value").catch((e: SiteloomError) => e);
        expect((missing as SiteloomError).message).toContain("is not set in store");
        // a delete says what it did: recoverable or not
        expect(await ctx.store.delete(ref)).toMatch(/recoverable/);
        expect(await ctx.store.get(ref).catch((e: SiteloomError) => e.code)).toBe("ERR_SECRET_NOT_FOUND");
        expect(await ctx.store.delete(ref).catch((e: SiteloomError) => e.code)).toBe("ERR_SECRET_NOT_FOUND");
        expect(await ctx.store.set(ref, "fresh-value")).toBe(1);
        expect((await ctx.store.get(ref)).reveal()).toBe("fresh-value");
        return;
      }
      const v1 = ctx.seed["shop/FTP_PASSWORD"]!;
      expect(await ctx.store.rotate(ref, "second-value")).toBe(2);
      expect(await ctx.store.rotate(ref, "third-value")).toBe(3);
      expect((await ctx.store.get(ref)).reveal()).toBe("third-value");
      expect((await ctx.store.get(`${ref}?version=1`)).reveal()).toBe(v1);
      const history = await ctx.store.history(ref);
      expect(history.map((h) => h.version)).toEqual([1, 2, 3]);
      // services without a per-version author show the backend type instead
      const actor = ctx.backend.capabilities.actors === false ? ctx.backend.type : "tester";
      expect(history.every((h) => h.actor === actor && !Number.isNaN(Date.parse(h.createdAt)))).toBe(true);
      expect(await ctx.store.rollback(ref, 1)).toBe(4);
      expect((await ctx.store.get(ref)).reveal()).toBe(v1);
      expect(await ctx.store.rollback(ref, 99).catch((e: SiteloomError) => e.code)).toBe("ERR_SECRET_NOT_FOUND");
      const missing = await ctx.store.rotate("secret://shop/NEVER_SET", "x-value").catch((e: SiteloomError) => e);
      expect((missing as SiteloomError).message).toContain("is not set in store");
      // a delete says what it did: recoverable or not
      expect(await ctx.store.delete(ref)).toMatch(/recoverable/);
      expect(await ctx.store.get(ref).catch((e: SiteloomError) => e.code)).toBe("ERR_SECRET_NOT_FOUND");
      expect(await ctx.store.delete(ref).catch((e: SiteloomError) => e.code)).toBe("ERR_SECRET_NOT_FOUND");
      expect(await ctx.store.set(ref, "fresh-value")).toBe(1);
      expect((await ctx.store.get(ref)).reveal()).toBe("fresh-value");
    });

    it("keeps unicode and 64 KiB values byte for byte (or names the service's limit)", async () => {
      if (!ctx.backend.capabilities.write) return;
      const unicode = 'pässwörd ✓ 🔐 «ключ» 鍵\n\ttab "quoted" \\ back';
      await ctx.store.set("secret://shop/UNICODE_VALUE", unicode);
      expect((await ctx.store.get("secret://shop/UNICODE_VALUE")).reveal()).toBe(unicode);
      const limit = ctx.backend.capabilities.maxValueBytes ?? 64 * 1024;
      const big = randomBytes(Math.ceil((limit * 3) / 4))
        .toString("base64")
        .slice(0, limit);
      await ctx.store.set("secret://shop/BIG_VALUE", big);
      expect((await ctx.store.get("secret://shop/BIG_VALUE")).reveal()).toBe(big);
      if (limit < 64 * 1024) {
        const tooBig = `${big}${big}`;
        const error = (await ctx.store.set("secret://shop/BIG_VALUE", tooBig).catch((e) => e)) as SiteloomError;
        expect(error.code).toMatch(/^ERR_SECRET_|^ERR_USAGE$/);
        expect(error.message).not.toContain(tooBig.slice(0, 40));
      }
    });

    it("maps names the service does not allow and maps them back in list", async () => {
      if (!ctx.backend.capabilities.write) return;
      const keys = ["x1-y2/_LEADING_UNDERSCORE_9", "global/A__DOUBLE__UNDERSCORE", "a/B", "blog-eu-2/Z"];
      for (const [i, key] of keys.entries()) await ctx.store.set(`secret://${key}`, `mapped-${i}`);
      for (const [i, key] of keys.entries()) expect((await ctx.store.get(key)).reveal()).toBe(`mapped-${i}`);
      const listed = (await ctx.store.list()).map((s) => `${s.scope}/${s.name}`);
      for (const key of keys) expect(listed).toContain(key);
      expect((await ctx.store.list("x1-y2")).map((s) => s.name)).toEqual(["_LEADING_UNDERSCORE_9"]);
      expect((await ctx.store.list("blog-eu")).map((s) => s.name)).toEqual(["FTP_PASSWORD"]);
    });

    it("concurrent writers: every write lands or fails clearly, versions stay unique", async () => {
      if (!ctx.backend.capabilities.write) return;
      const distinct = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => ctx.store.set(`secret://race/KEY_${i}`, `distinct-${i}`)),
      );
      expect(distinct.every((r) => r.status === "fulfilled")).toBe(true);
      for (let i = 0; i < 6; i++) expect((await ctx.store.get(`race/KEY_${i}`)).reveal()).toBe(`distinct-${i}`);
      const ref = "secret://shop/API_TOKEN";
      const written = Array.from({ length: 5 }, (_, i) => `same-key-${i}`);
      const results = await Promise.allSettled(written.map((v) => ctx.store.rotate(ref, v)));
      for (const r of results) {
        if (r.status === "rejected") expect((r.reason as SiteloomError).message).toMatch(/concurrent|try again/);
      }
      expect(written).toContain((await ctx.store.get(ref)).reveal());
      const numbers = (await ctx.store.history(ref)).map((h) => h.version);
      expect(new Set(numbers).size).toBe(numbers.length);
      const ok = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
      if (ctx.backend.capabilities.history) expect(new Set(ok).size).toBe(ok.length);
    });

    it("refuses empty values and versioned write references", async () => {
      if (!ctx.backend.capabilities.write) return;
      expect(await ctx.store.set("secret://shop/X1", "").catch((e: SiteloomError) => e.code)).toBe("ERR_USAGE");
      expect(await ctx.store.set("secret://shop/X1?version=2", "v").catch((e: SiteloomError) => e.code)).toBe(
        "ERR_REFERENCE_INVALID",
      );
    });
  });

  if (options.additionalTests) describe("backend specific", () => options.additionalTests!(ctx));
}
