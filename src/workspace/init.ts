import { existsSync } from "node:fs";
import { chmod, cp, mkdir, readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { renderWorkspaceTemplate } from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { writeFileAtomic } from "../files.ts";
import { SITES_DIR, STATE_DIR, WORKSPACE_FILE } from "./load.ts";
import { exampleWorkspaceDir, schemaRef } from "./package-root.ts";

/** Lines `siteloom init` makes sure .gitignore has. */
export const GITIGNORE_ENTRIES = ["export/", "output/", `${STATE_DIR}/`];

/** Options for initWorkspace. */
export interface InitWorkspaceOptions {
  /** Folder to create the workspace in (created when missing). */
  dir: string;
  /** Overwrite an existing siteloom.yaml (and the example's files with `example`). Sites and state are kept. */
  force?: boolean;
  /** Copy the bundled example workspace (one site, example.com) instead of an empty one. */
  example?: boolean;
}

/** What initWorkspace did, relative to the workspace root. */
export interface InitResult {
  root: string;
  written: string[];
  overwritten: string[];
}

/**
 * Creates a workspace: siteloom.yaml (every default, commented, with a schema line for editors), sites/,
 * .siteloom/ (mode 0700) and .gitignore entries. Refuses to overwrite an existing siteloom.yaml without `force`.
 */
export async function initWorkspace(options: InitWorkspaceOptions): Promise<InitResult> {
  const root = resolve(options.dir);
  const configFile = join(root, WORKSPACE_FILE);
  const exists = existsSync(configFile);
  if (exists && !options.force) {
    throw new SiteloomError(
      "ERR_WORKSPACE_EXISTS",
      `${configFile} already exists; pass --force to overwrite it (sites/ and ${STATE_DIR}/ are kept)`,
    );
  }
  const result: InitResult = { root, written: [], overwritten: [] };
  await mkdir(root, { recursive: true });
  const wsText = options.example
    ? _withSchemaLine(
        await readFile(join(exampleWorkspaceDir(), WORKSPACE_FILE), "utf8"),
        schemaRef(root, "siteloom.schema.json"),
      )
    : renderWorkspaceTemplate({ schemaRef: schemaRef(root, "siteloom.schema.json") });
  await writeFileAtomic(configFile, wsText);
  (exists ? result.overwritten : result.written).push(WORKSPACE_FILE);
  await mkdir(join(root, SITES_DIR), { recursive: true });
  const state = join(root, STATE_DIR);
  await mkdir(state, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and ignored for an existing folder: set it explicitly
  await chmod(state, 0o700);
  if (await _ensureGitignore(join(root, ".gitignore"))) result.written.push(".gitignore");
  if (options.example) await _copyExample(root, options.force === true, result);
  return result;
}

// --- internal ---

async function _ensureGitignore(file: string): Promise<boolean> {
  const current = existsSync(file) ? await readFile(file, "utf8") : "";
  const have = new Set(current.split(/\r?\n/).map((line) => line.trim()));
  const missing = GITIGNORE_ENTRIES.filter((entry) => !have.has(entry) && !have.has(`/${entry}`));
  if (missing.length === 0) return false;
  const prefix = current === "" ? "" : current.endsWith("\n") ? "\n" : "\n\n";
  await writeFileAtomic(
    file,
    `${current}${prefix}# siteloom: mirrors, build output and local state\n${missing.join("\n")}\n`,
  );
  return true;
}

async function _copyExample(root: string, force: boolean, result: InitResult): Promise<void> {
  const source = join(exampleWorkspaceDir(), SITES_DIR);
  for (const file of await _listFiles(source)) {
    const rel = relative(source, file);
    const target = join(root, SITES_DIR, rel);
    const shown = `${SITES_DIR}/${rel.split("\\").join("/")}`;
    const exists = existsSync(target);
    if (exists && !force) {
      throw new SiteloomError(
        "ERR_WORKSPACE_EXISTS",
        `${target} already exists; pass --force to overwrite the example's files`,
      );
    }
    await mkdir(dirname(target), { recursive: true });
    if (file.endsWith(".yaml")) {
      const text = await readFile(file, "utf8");
      await writeFileAtomic(target, _withSchemaLine(text, schemaRef(dirname(target), "site.schema.json")));
    } else {
      await cp(file, target, { force: true });
    }
    (exists ? result.overwritten : result.written).push(shown);
  }
}

async function _listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Points the yaml-language-server line at the installed schema (adds the line when the file has none). */
function _withSchemaLine(text: string, ref: string): string {
  const line = `# yaml-language-server: $schema=${ref}`;
  return /^# yaml-language-server: \$schema=.*$/m.test(text)
    ? text.replace(/^# yaml-language-server: \$schema=.*$/m, line)
    : `${line}\n${text}`;
}
