// `npm run schema`: writes the JSON Schemas shipped in schema/ from the zod schema (the single source of truth).
// test/config/schema-file.test.ts fails when the shipped files are stale.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateJsonSchemas } from "../src/config/index.ts";

const dir = fileURLToPath(new URL("../schema/", import.meta.url));
for (const [name, schema] of Object.entries(generateJsonSchemas())) {
  writeFileSync(join(dir, name), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schema/${name}`);
}
