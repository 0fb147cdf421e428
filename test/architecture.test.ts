import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layering rules of docs/architecture.md, checked on the source: a domain folder of src/ is imported from
 * another folder only through its `index.ts` (its public face); root modules (`src/*.ts`) are imported directly.
 */
describe("architecture: imports", () => {
  it("reach another domain only through its index.ts", () => {
    const deep: string[] = [];
    for (const file of _sourceFiles(SRC)) {
      const from = _domainOf(file);
      for (const specifier of _relativeImports(readFileSync(file, "utf8"))) {
        const target = resolve(dirname(file), specifier);
        const to = _domainOf(target);
        if (to === undefined || to === from) continue;
        const edge = `${relative(SRC, file)} imports ${specifier}`;
        const into = relative(SRC, target);
        if (
          relative(join(SRC, to), target) !== "index.ts" &&
          !ALLOWED_DEEP.has(edge) &&
          !_consoleIntoServer(from, into)
        ) {
          deep.push(edge);
        }
      }
    }
    expect(deep).toEqual([]);
  });

  it("name their exports: no `export *` in a public face", () => {
    const starred = _sourceFiles(SRC)
      .filter((file) => file.endsWith("/index.ts") || file === join(SRC, "index.ts"))
      .filter((file) => /^export \* from/m.test(readFileSync(file, "utf8")))
      .map((file) => relative(SRC, file));
    expect(starred).toEqual([]);
  });

  it("finds a deep import when there is one (the check itself works)", () => {
    const text = 'import { x } from "../config/schema.ts";\nconst m = await import("../../secrets/index.ts");\n';
    expect(_relativeImports(text)).toEqual(["../config/schema.ts", "../../secrets/index.ts"]);
  });
});

// --- internal ---

const SRC = resolve(import.meta.dirname, "../src");

/** The deep imports that stay, and why. */
const ALLOWED_DEEP = new Set([
  // the config schema composes `secrets.stores` from the backend registry; secrets/index.ts imports config/, so going
  // through it would be a load cycle in which the schema reads the registry before it exists
  "config/schema.ts imports ../secrets/backends/index.ts",
  // deploy finishes a killed enrichment's commit of output/ first; enrich/index.ts would load the HTML, Markdown and
  // LLM libraries into every deploy (test/transfer/deploy-cli.test.ts checks that a deploy loads none of them)
  "pipeline/steps/transfer.ts imports ../../enrich/staging.ts",
]);

/**
 * console/ is a plugin of the server (server.ts mounts it) and checks requests with the server's own access helpers;
 * through server/index.ts, which exports buildServer, it would import itself back. Its edges into server/ are these.
 */
function _consoleIntoServer(from: string | undefined, into: string): boolean {
  return from === "console" && ["server/access.ts", "server/runtime.ts", "server/plugins/auth.ts"].includes(into);
}

function _sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name));
}

/** The domain folder (`config`, `secrets`) a path lies in; undefined for a root module. */
function _domainOf(path: string): string | undefined {
  const rel = relative(SRC, path).split("/");
  return rel.length > 1 ? rel[0] : undefined;
}

/** Relative specifiers of static imports, re-exports and `import()` calls. */
function _relativeImports(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm)) {
    out.push(match[1]!);
  }
  return out;
}
