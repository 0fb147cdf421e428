import { stringify } from "yaml";
import { type ZodType, z } from "zod";
import { type SiteConfig, SiteFileSchema, WorkspaceFileSchema } from "./schema.ts";
import { describeAt, validKeysAt } from "./schema-walk.ts";

/** Options for the generated `siteloom.yaml`. */
export interface WorkspaceTemplateOptions {
  /** Value of the `# yaml-language-server: $schema=` line (a path relative to the file, or a URL). */
  schemaRef: string;
}

/** Options for a generated `sites/<name>/site.yaml`. */
export interface SiteTemplateOptions {
  schemaRef: string;
  name: string;
  domain: string;
  remote?: Partial<Pick<SiteConfig["remote"], "protocol" | "host" | "port" | "user" | "root">>;
}

/**
 * `siteloom.yaml` for `siteloom init`: every setting with its default, commented out, generated from the schema so
 * it can never disagree with it.
 */
export function renderWorkspaceTemplate(options: WorkspaceTemplateOptions): string {
  const defaults = WorkspaceFileSchema.parse({}) as Record<string, unknown>;
  const lines = [
    `# yaml-language-server: $schema=${options.schemaRef}`,
    "# siteloom workspace configuration. Every setting below shows its default; uncomment to change it.",
    "# Layers, later wins: defaults < this file < environments.<env> here < sites/<name>/site.yaml",
    "#   < its environments.<env> < SITELOOM_* variables < --set flags.  Check with: siteloom config validate",
    "# Credentials are references, never plaintext: secret://<site|global>/<NAME> or ${ENV_VAR}.",
    "",
    "# Environment used when neither --env nor SITELOOM_ENV is given.",
    "environment: development",
  ];
  for (const key of validKeysAt(WorkspaceFileSchema, [])) {
    if (key === "$schema" || key === "environment" || key === "environments") continue;
    _render(lines, WorkspaceFileSchema, [key], defaults[key], 0);
  }
  lines.push(
    "",
    "# Per-environment overrides (the environment's values win over the ones above):",
    "# environments:",
    "#   production:",
    "#     deploy:",
    "#       parallel: 4",
    "#     features:",
    "#       autoPublish: true",
    "",
  );
  return lines.join("\n");
}

/** `sites/<name>/site.yaml` for `siteloom site add`. */
export function renderSiteTemplate(options: SiteTemplateOptions): string {
  const remote = { protocol: "ftp", root: "/", ...options.remote };
  const remoteYaml = stringify({ remote }, { lineWidth: 0 }).trimEnd().split("\n");
  const passwordKey = remote.protocol === "sftp" ? "SFTP_PASSWORD" : "FTP_PASSWORD";
  const passwordLine = `  password: secret://${options.name}/${passwordKey}`;
  const lines = [
    `# yaml-language-server: $schema=${options.schemaRef}`,
    `# Site "${options.name}". Settings here override siteloom.yaml for this site only.`,
    stringify({ domain: options.domain }).trimEnd(),
    ...remoteYaml,
    // the credential is a reference: the value lives in the secret store, never in this file
    remote.user ? passwordLine : `#${passwordLine.slice(1)}`,
    "",
    "# content:",
    "#   language: en",
    "#   minWords: 600",
    "# environments:",
    "#   production:",
    "#     deploy:",
    "#       delete: true",
    "",
  ];
  return lines.join("\n");
}

/** The JSON Schemas shipped in schema/ (editor completion for both files), generated from the zod schema. */
export function generateJsonSchemas(): Record<"siteloom.schema.json" | "site.schema.json", Record<string, unknown>> {
  const make = (schema: ZodType, id: string, title: string) => ({
    $id: id,
    title,
    ...z.toJSONSchema(schema, { io: "input", target: "draft-7", unrepresentable: "any" }),
  });
  return {
    "siteloom.schema.json": make(WorkspaceFileSchema, "siteloom.schema.json", "siteloom workspace (siteloom.yaml)"),
    "site.schema.json": make(SiteFileSchema, "site.schema.json", "siteloom site (sites/<name>/site.yaml)"),
  };
}

// --- internal ---

const COMMENT_COLUMN = 44;

function _render(lines: string[], schema: ZodType, path: string[], value: unknown, depth: number): void {
  const indent = "  ".repeat(depth);
  const key = path[path.length - 1]!;
  const description = describeAt(schema, path);
  const children = validKeysAt(schema, path);
  const isMapping = children.length > 0;
  if (depth === 0) lines.push("");
  if (isMapping) {
    lines.push(_withComment(`# ${indent}${key}:`, description));
    const object = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
    for (const child of children) _render(lines, schema, [...path, child], object[child], depth + 1);
    return;
  }
  const shown = value === undefined ? "" : ` ${_scalar(value)}`;
  lines.push(_withComment(`# ${indent}${key}:${shown}`, description));
}

function _scalar(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return stringify(value).trimEnd();
}

function _withComment(text: string, description: string | undefined): string {
  if (!description) return text;
  return `${text.padEnd(COMMENT_COLUMN - 1)} # ${description}`;
}
