import { parse } from "yaml";
import {
  type GuardedChange,
  getPath,
  guardedChanges,
  isCredentialAt,
  isReference,
  SiteConfigSchema,
} from "../config/index.ts";
import { SiteloomError } from "../errors.ts";
import { type Principal, roleAllows } from "../tokens/index.ts";

/**
 * The API's rule for configuration writes (docs/server.md, "Who may change what"): no token below admin changes
 * a credential or a field that decides where a credential goes, and no token at all changes where secrets are kept,
 * who can decrypt them or which variables references may read. The guarded fields come from the schema's
 * metadata, so a field added later is covered by marking it there. Throws ERR_FORBIDDEN naming the field.
 */
export function checkConfigWrite(
  principal: Principal,
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
): void {
  for (const [file, text] of Object.entries(after)) {
    const old = before[file] ?? "";
    if (old === text) continue;
    const data = _data(text);
    const changes = guardedChanges(_data(old), data);
    const store = changes.find((c) => c.guard === "store");
    if (store) {
      throw new SiteloomError(
        "ERR_FORBIDDEN",
        `${file} ${store.path}: ${_why(store)} is changed only by editing the file or with the siteloom CLI by someone holding the store's identity (siteloom secrets recipients add ...), never through the API`,
      );
    }
    const guarded = changes[0];
    if (guarded && !roleAllows(principal.role, "admin")) {
      throw new SiteloomError(
        "ERR_FORBIDDEN",
        `${file} ${guarded.path}: ${_why(guarded)}; changing it needs an admin token (token "${principal.name}" has role ${principal.role})`,
      );
    }
    const plaintext = changes.find((c) => {
      const value = getPath(data, c.path.split("."));
      return typeof value === "string" && !isReference(value) && isCredentialAt(SiteConfigSchema, c.field.split("."));
    });
    if (plaintext) {
      // a value written here stays in the version history, which the API cannot purge
      throw new SiteloomError(
        "ERR_CONFIG_INVALID",
        `${file} ${plaintext.path}: a plaintext credential is never written through the API (it would stay in the version history); store it with PUT /secrets/<site|global>/<NAME> and write its reference secret://<site|global>/<NAME>`,
      );
    }
  }
}

// --- internal ---

function _data(text: string): unknown {
  // the texts were validated before they were stored; an unreadable one compares as empty
  try {
    return parse(text, { maxAliasCount: 100 }) ?? {};
  } catch {
    return {};
  }
}

function _why(change: GuardedChange): string {
  if (change.guard === "credential") return `${change.field} is a credential`;
  if (change.guard === "destination") return `${change.field} decides where credentials are sent`;
  return `${change.field} decides where secrets are kept, who can decrypt them or what references may read`;
}
