import { describe, expect, it } from "vitest";
import { parseReference, resolveValue } from "../../src/config/index.ts";
import { Secret } from "../../src/secret.ts";

describe("config: references", () => {
  it("parses env and secret references", () => {
    expect(parseReference("${FTP_PASS}")).toMatchObject({ kind: "env", name: "FTP_PASS", default: undefined });
    expect(parseReference("${FTP_PASS:-x y}")).toMatchObject({ kind: "env", default: "x y" });
    expect(parseReference("secret://shop/FTP_PASSWORD?version=3")).toMatchObject({
      kind: "secret",
      scope: "shop",
      name: "FTP_PASSWORD",
      version: 3,
    });
    expect(parseReference("plain")).toBeUndefined();
  });

  it("rejects malformed references with the expected form", () => {
    expect(() => parseReference("secret://Shop/x")).toThrow(/expected secret:\/\/<site\|global>\/<NAME>/);
    expect(() => parseReference("${1BAD}")).toThrow(/invalid reference/);
  });

  it("resolves env references and names a missing resolver", async () => {
    const value = await resolveValue("${PW}", { env: { PW: "hunter22" } });
    expect(value).toBeInstanceOf(Secret);
    expect(`${value}`).toBe("****");
    expect(value.reveal()).toBe("hunter22");
    await expect(resolveValue("secret://shop/FTP_PASSWORD")).rejects.toThrow(
      /secret:\/\/shop\/FTP_PASSWORD: no secret store/,
    );
  });
});
