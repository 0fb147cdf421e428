import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/tokens/tokens.ts";

describe("tokens: lifetimes", () => {
  it("parses durations and refuses anything else", () => {
    expect(parseDuration("30d")).toBe(30 * 86_400_000);
    expect(parseDuration("90m")).toBe(90 * 60_000);
    expect(parseDuration("2w")).toBe(14 * 86_400_000);
    for (const bad of ["", "30", "d", "0d", "1y", "-1d", "1.5h"])
      expect(() => parseDuration(bad)).toThrow(/invalid duration/);
  });
});
