import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** CLI tests spawn the built binary: make sure it is there (npm test builds before running vitest). */
export default function setup(): void {
  const bin = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build before the tests`);
}
