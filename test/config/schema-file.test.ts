import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { generateJsonSchemas } from "../../src/config/index.ts";

describe("config: shipped JSON Schema", () => {
  it("schema/*.schema.json equal what the zod schema generates (run npm run schema after changing it)", async () => {
    for (const [name, schema] of Object.entries(generateJsonSchemas())) {
      const shipped = await readFile(new URL(`../../schema/${name}`, import.meta.url), "utf8");
      expect(shipped, `schema/${name} is stale: run npm run schema`).toBe(`${JSON.stringify(schema, null, 2)}\n`);
    }
  });
});
