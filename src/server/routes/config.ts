import type { FastifyPluginAsync } from "fastify";
import { parseDocument } from "yaml";
import { maskCredentials, SiteFileSchema, WorkspaceFileSchema } from "../../config/index.ts";
import { SiteloomError } from "../../errors.ts";
import { SITE_FILE, WORKSPACE_FILE } from "../../workspace/index.ts";
import { ENV_PARAM, principalOf, requestEnv, requireSite, SITE_PARAM } from "../access.ts";
import { checkConfigWrite } from "../config-guard.ts";
import type { ConfigRuntime, ConfigSnapshot } from "../runtime.ts";
import { applyMergePatchToDocument, diffFiles, mergePatch } from "../yaml-edit.ts";

export interface ConfigRoutesOptions {
  runtime: ConfigRuntime;
}

/** Media type of RFC 7386 bodies; plain application/json is accepted too. */
export const MERGE_PATCH_TYPE = "application/merge-patch+json";

/** GET /config, PATCH /config, GET /config/status. */
export const configRoutes: FastifyPluginAsync<ConfigRoutesOptions> = async (fastify, { runtime }) => {
  // snapshots are immutable, so each masked view is computed once per snapshot
  const masked = new WeakMap<ConfigSnapshot, Map<string, unknown>>();
  const maskedView = (snapshot: ConfigSnapshot, env: string, site: string | undefined): unknown => {
    let views = masked.get(snapshot);
    if (!views) {
      views = new Map();
      masked.set(snapshot, views);
    }
    const key = `${env}\u0000${site ?? ""}`;
    if (!views.has(key)) {
      const resolved = snapshot.resolved.get(env)!;
      views.set(key, maskCredentials(site ? resolved.sites.get(site) : resolved.workspace));
    }
    return views.get(key);
  };
  fastify.get<{ Querystring: { site?: string; env?: string } }>(
    "/config",
    {
      config: { access: { role: "viewer", action: "config.read" } },
      schema: {
        summary: "Resolved configuration of the workspace or a site, credentials masked",
        description:
          "All layers merged for the environment. Credential fields show their reference (secret://..., ${VAR}) or **** when written as a literal; values are never resolved.",
        tags: ["config"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { site: SITE_PARAM, env: ENV_PARAM },
        },
      },
    },
    async (request, reply) => {
      // the ETag must name what is on disk now: another process (a second server, the CLI) may have written since
      // this one last looked, and a stale tag would make every If-Match write that follows a 409
      const snapshot = await runtime.reloadFromDisk();
      const env = requestEnv(request, snapshot, request.query.env);
      const site = request.query.site;
      request.auditInfo.key = site ? `sites/${site}` : "workspace";
      if (site) requireSite(snapshot, site);
      reply.header("etag", `"${snapshot.version}"`);
      return { version: snapshot.version, env, site: site ?? null, config: maskedView(snapshot, env, site) };
    },
  );

  fastify.get(
    "/config/status",
    {
      config: { access: { role: "viewer", action: "config.status" } },
      schema: {
        summary: "Version in force, environments, sites, and the last rejected edit",
        tags: ["config"],
      },
    },
    async () => {
      const snapshot = runtime.current();
      return {
        version: snapshot.version,
        loadedAt: snapshot.loadedAt,
        defaultEnv: snapshot.defaultEnv,
        envs: snapshot.envs,
        sites: snapshot.sites,
        lastRejected: runtime.lastRejected() ?? null,
      };
    },
  );

  fastify.patch<{ Querystring: { site?: string; env?: string }; Body: Record<string, unknown> }>(
    "/config",
    {
      config: { access: { role: "editor", action: "config.patch" } },
      schema: {
        summary: "Change the configuration with a JSON Merge Patch (RFC 7386)",
        description:
          "The body is the merge patch itself (null deletes a key). Without `site` it applies to siteloom.yaml, with `site` to sites/<site>/site.yaml; with `env` it applies inside that file's `environments.<env>` block, else to the file's base layer (which needs a token allowed in every environment). The patch is validated against the schema and then against the fully layered configuration of every environment before the file is written (atomically, comments and layout kept); the change becomes a new version and is live when the response arrives. Send `If-Match: \"<version>\"` to refuse the change if someone else changed the configuration first.",
        tags: ["config"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { site: SITE_PARAM, env: ENV_PARAM },
        },
        body: { type: "object", description: "JSON Merge Patch", maxProperties: 100 },
        "x-content-types": [MERGE_PATCH_TYPE, "application/json"],
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const snapshot = runtime.current();
      const { site, env } = request.query;
      const file = site ? `sites/${site}/${SITE_FILE}` : WORKSPACE_FILE;
      // the file alone until the patch is known to be valid: a key name may be anything a client typed (a value)
      request.auditInfo.key = `${file}${env ? `:environments.${env}` : ""}`;
      const paths = patchPaths(request.body);
      if (env !== undefined) requestEnv(request, snapshot, env);
      else if (principal.role !== "admin" && principal.envs.length > 0) {
        throw new SiteloomError(
          "ERR_FORBIDDEN",
          `token "${principal.name}" is limited to ${principal.envs.join(", ")}; a change to the base layer affects every environment, so patch with ?env=<name>`,
        );
      }
      if (site) requireSite(snapshot, site);
      const ifMatch = request.headers["if-match"];
      const base = env ? ["environments", env] : [];
      const schema = site ? SiteFileSchema : WorkspaceFileSchema;
      // the edit runs under the file's lock on the text then on disk; the version check happens there too
      const edit = (text: string): string => {
        const doc = parseDocument(text);
        const current = (doc.toJS() ?? {}) as Record<string, unknown>;
        const next = env
          ? mergePatch(current, { environments: { [env]: request.body } })
          : mergePatch(current, request.body);
        const checked = schema.safeParse(next);
        if (!checked.success) {
          throw new SiteloomError("ERR_CONFIG_INVALID", `the patch makes ${file} invalid; nothing was changed`, {
            details: checked.error.issues.map((i) => `${file} ${i.path.join(".") || "(root)"}: ${i.message}`),
          });
        }
        if (env && !doc.hasIn(["environments"])) doc.setIn(["environments"], doc.createNode({}));
        if (env && !doc.hasIn(base)) doc.setIn(base, doc.createNode({}));
        request.auditInfo.key = `${request.auditInfo.key}:${paths.join(",")}`.slice(0, 500);
        applyMergePatchToDocument(doc, request.body, base);
        const newText = doc.toString();
        // the policy sees the files as they are under the lock (the runtime caught up with the disk first)
        if (newText !== text) checkConfigWrite(principal, runtime.current().files, { [file]: newText });
        return newText;
      };
      const result = await runtime.applyChange({
        files: { [file]: edit },
        ifMatch: typeof ifMatch === "string" && ifMatch.trim() !== "*" ? _parseIfMatch(ifMatch) : undefined,
        actor: principal.name,
        source: "api",
        env,
        message: `PATCH ${file}${env ? ` environments.${env}` : ""}: ${paths.join(", ")}`.slice(0, 300),
      });
      const version = result.snapshot.version;
      if (!result.changed) return { version, changed: false, file, diff: "" };
      request.auditInfo.version = version;
      return { version, changed: true, file, diff: diffFiles(result.before, result.after) };
    },
  );
};

// --- internal ---

/** Deepest patch accepted (the schema's deepest path is 5 keys; environments add 2). */
const MAX_PATCH_DEPTH = 16;
/** Most keys in one patch, all levels together. */
const MAX_PATCH_KEYS = 1000;
/** What a configuration key may look like: names of the schema, environments, sites, models and secrets. */
const PATCH_KEY = /^[A-Za-z0-9$_][A-Za-z0-9._:/@+-]{0,99}$/;

/**
 * The dotted leaf paths of a merge patch, walked without recursion after checking its shape: too deep, too many
 * keys or a key that cannot be a configuration key is ERR_USAGE (400), before anything else looks at it.
 */
export function patchPaths(patch: unknown): string[] {
  const out: string[] = [];
  const stack: { value: unknown; prefix: string; depth: number }[] = [{ value: patch, prefix: "", depth: 0 }];
  let keys = 0;
  while (stack.length > 0) {
    const { value, prefix, depth } = stack.pop()!;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      if (prefix) out.push(prefix);
      continue;
    }
    const entries = Object.entries(value);
    if (entries.length === 0 && prefix) out.push(prefix);
    if (depth >= MAX_PATCH_DEPTH) {
      throw new SiteloomError(
        "ERR_USAGE",
        `the patch is nested deeper than ${MAX_PATCH_DEPTH} levels; no configuration key is that deep`,
      );
    }
    keys += entries.length;
    if (keys > MAX_PATCH_KEYS) {
      throw new SiteloomError("ERR_USAGE", `the patch has more than ${MAX_PATCH_KEYS} keys; send smaller patches`);
    }
    for (const [key, child] of entries.reverse()) {
      if (!PATCH_KEY.test(key)) {
        throw new SiteloomError(
          "ERR_USAGE",
          `a key under ${prefix || "the top level"} of the patch is not a configuration key name (letters, digits and . _ - : / @ +, at most 100 characters)`,
        );
      }
      stack.push({ value: child, prefix: prefix ? `${prefix}.${key}` : key, depth: depth + 1 });
    }
  }
  return out;
}

/** `"5"`, `5` or `W/"5"` → 5; anything else can never match a version. */
function _parseIfMatch(header: string): number {
  const text = header.replace(/^W\//, "").replaceAll('"', "").trim();
  return /^[0-9]{1,15}$/.test(text) ? Number(text) : -1;
}
