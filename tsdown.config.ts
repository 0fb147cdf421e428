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
  // Pure-JS dependencies that every command loads are bundled in: resolving and reading their many small module
  // files costs more start-up time than compiling them. Native and lazily loaded ones stay external.
  noExternal: ["yaml", "zod", "commander", "picocolors"],
  inputOptions: {
    // Two diagnostics about the build tooling, not about our code: the .d.ts plugin transforms without a source map
    // (only type declarations are affected) and its callbacks take most of the build time. They filled the first
    // screens of `npm run demo`.
    checks: { sourcemapBroken: false, bundlerTimings: false },
  },
});
