import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { DOCS_FILE, withBackendDocs } from "../../scripts/docs-backends.ts";
import { BACKENDS } from "../../src/secrets/index.ts";

describe("secrets: docs of the backends", () => {
  it("docs/secrets.md's backends section is what the registry generates (run npm run docs:backends)", async () => {
    const text = await readFile(DOCS_FILE, "utf8");
    expect(text).toBe(withBackendDocs(text));
    for (const b of BACKENDS) expect(text).toContain(`Options of \`type: ${b.type}\`:`);
  });
});
