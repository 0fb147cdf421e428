/**
 * The bundled example workspace (`siteloom init --example`) wired to the harness's servers: every site is a copy of
 * the example site, live in its own folder on the harness's FTP/SFTP server, generating through the LLM wire server.
 *
 *   const root = join(dir, "ws");
 *   await createExampleWorkspace(root, { server: ftp, llm, apiKey: "${E2E_LLM_KEY}", sites: ["shop"] });
 *
 * Every site gets `remote` (the server's, rooted at its folder) and short articles (120–300 words); siteloom.yaml gets
 * an `llm` section for the wire server. Whatever a test needs beyond that goes through `editSite`/`editWorkspace`.
 */

import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { type Document, parseDocument } from "yaml";
import type { LlmServer } from "../content/support/llm-server.ts";
import { runCli } from "./cli.ts";
import type { TestServer } from "./servers/index.ts";

/** The example site's live files, as its host would serve them. */
export const EXAMPLE_SITE = fileURLToPath(new URL("../../examples/site/", import.meta.url));

export interface ExampleWorkspaceOptions {
  /** The server hosting the sites. */
  server: TestServer;
  /** The LLM wire server the workspace generates through (OpenAI's format, model `test-model`). */
  llm: LlmServer;
  /** `llm.apiKey` in siteloom.yaml: a `${VAR}` or `secret://` reference. */
  apiKey: string;
  /** The sites, each a copy of the example site (`example` itself is removed when it is not listed). @default ["example"] */
  sites?: string[];
  /**
   * Each site's folder under the server's root: emptied, filled with the example site and given to the server user.
   * `""` is the server's root itself. @default the site's name
   */
  folder?: (site: string) => string;
  /** Changes to each site's site.yaml, after the common ones. */
  editSite?: (doc: Document, site: string) => void;
  /** Changes to siteloom.yaml, after the `llm` section is set. */
  editWorkspace?: (doc: Document) => void;
}

/** Creates the workspace at `root` (which must not exist yet) and the sites' live folders on the server. */
export async function createExampleWorkspace(root: string, options: ExampleWorkspaceOptions): Promise<void> {
  const { server, llm, sites = ["example"], folder = (site: string) => site } = options;
  const init = await runCli(["init", root, "--example"]);
  expect(init.code, init.stderr).toBe(0);
  const example = await readFile(join(root, "sites/example/site.yaml"), "utf8");
  const topics = await readFile(join(root, "sites/example/topics.csv"), "utf8");
  for (const site of sites) {
    const live = join(server.rootDir, folder(site));
    await _emptyDir(live);
    await cp(EXAMPLE_SITE, live, { recursive: true });
    await server.own(live);
    const doc = parseDocument(example);
    const remoteRoot = posix.join(server.remoteConfig.root, folder(site));
    doc.set("remote", doc.createNode({ ...server.remoteConfig, root: remoteRoot }));
    doc.setIn(["content", "minWords"], 120);
    doc.setIn(["content", "maxWords"], 300);
    options.editSite?.(doc, site);
    await mkdir(join(root, "sites", site), { recursive: true });
    await writeFile(join(root, "sites", site, "site.yaml"), doc.toString());
    await writeFile(join(root, "sites", site, "topics.csv"), topics);
  }
  if (!sites.includes("example")) await rm(join(root, "sites/example"), { recursive: true, force: true });
  const wsFile = join(root, "siteloom.yaml");
  const doc = parseDocument(await readFile(wsFile, "utf8"));
  // a YAML node, not a plain object, so that `editWorkspace` can setIn below it
  doc.set("llm", doc.createNode({ provider: "openai", model: "test-model", baseUrl: llm.url, apiKey: options.apiKey }));
  options.editWorkspace?.(doc);
  await writeFile(wsFile, doc.toString());
}

// --- internal ---

/** Makes `dir` an empty folder, keeping the folder itself (it may be the server's root). */
async function _emptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}
