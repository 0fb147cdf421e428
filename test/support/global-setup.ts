import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** CLI tests spawn the built binary: make sure it is there (npm test builds before running vitest). */
export default function setup(): void {
  const bin = process.env.SITELOOM_TEST_BIN
    ? resolve(process.env.SITELOOM_TEST_BIN)
    : fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build before the tests`);
}
