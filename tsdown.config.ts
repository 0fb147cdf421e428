import { defineConfig } from "tsdown";

export default defineConfig({
  entry: ["src/index.ts", "src/cli/main.ts"],
  format: "esm",
  platform: "node",
  target: "node20",
  dts: true,
  clean: true,
  sourcemap: true,
  // Stable file names: package.json's "types" points at dist/index.d.ts.
  hash: false,
  // Pure-JS dependencies on the path of every command that loads a workspace (config, secrets, store, pipeline,
  // deploy) are bundled in: resolving and reading their many small module files costs more start-up time than
  // compiling them, and a CommonJS package imported from ESM is also scanned by Node's export lexer (basic-ftp: 46 ms
  // imported, 16 ms required). Bundled CommonJS runs when first required, as it did. Native ones (better-sqlite3) and
  // the lazily loaded ones of other commands (SDKs, HTML, server, pg) stay external; pino is only ever given a
  // destination stream here, so its worker-thread transports (which need their own files) are never started.
  noExternal: [
    "yaml",
    "zod",
    "commander",
    "picocolors",
    "basic-ftp",
    "ignore",
    "p-limit",
    "p-retry",
    "proper-lockfile",
    "dotenv",
    "pino",
  ],
  inputOptions: {
    // Two diagnostics about the build tooling, not about our code: the .d.ts plugin transforms without a source map
    // (only type declarations are affected) and its callbacks take most of the build time. They filled the first
    // screens of `npm run demo`.
    checks: { sourcemapBroken: false, bundlerTimings: false },
  },
});
