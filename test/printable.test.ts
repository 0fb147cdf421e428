import { describe, expect, it } from "vitest";
import { printable } from "../src/printable.ts";

describe("printable", () => {
  it("escapes what a terminal would obey: ESC sequences, OSC titles, BEL, C1 CSI, direction overrides", () => {
    const hostile = "\u001b[2J\u001b]0;owned\u0007\u009b31mred\u202etxt.exe\u0000";
    expect(printable(hostile)).toBe("\\x1b[2J\\x1b]0;owned\\x07\\x9b31mred\\u{202e}txt.exe\\x00");
    expect(printable(printable(hostile))).toBe(printable(hostile));
  });

  it("joins, keeps or escapes line breaks", () => {
    expect(printable("530-first\r\n530 second\n")).toBe("530-first 530 second ");
    expect(printable("a\r\nb", { newlines: "keep" })).toBe("a\nb");
    expect(printable("a\nb", { newlines: "escape" })).toBe("a\\x0ab");
  });

  it("leaves ordinary text, accents and emoji alone", () => {
    expect(printable("vérifié — 日本 🎉 tab-free")).toBe("vérifié — 日本 🎉 tab-free");
  });
});
