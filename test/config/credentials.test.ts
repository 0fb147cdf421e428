import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type ZodType, z } from "zod";
import {
  type CredentialField,
  credential,
  credentialFields,
  guardedChanges,
  guardedFields,
  isCredentialInFile,
  isCredentialVariable,
  maskConfigText,
  maskCredentials,
  SiteConfigSchema,
} from "../../src/config/index.ts";
import { MASK } from "../../src/secret.ts";
import { scanYaml } from "../../src/secrets/plaintext.ts";
import { diffFiles } from "../../src/server/yaml-edit.ts";

/**
 * "Is this a credential" has one rule, the `credential()` marker in the schema; masking (objects and YAML text, also
 * in API version diffs), the plaintext scan of `secrets migrate`, the .env variables it takes, and the guard of
 * config writes all derive from it. Each consumer is asked about every marked field, so a field marked tomorrow is
 * covered by all of them or this fails.
 */
describe("config: one credential rule", () => {
  it("masks literal credentials and keeps references, in objects and YAML text", () => {
    const config = {
      remote: { password: "hunter2-long", passphrase: "${PASS}", host: "h" },
      llm: { apiKey: "secret://global/KEY" },
      secrets: { stores: { vault: { type: "vault", token: "s.abcdef" } } },
    };
    expect(maskCredentials(config)).toEqual({
      remote: { password: MASK, passphrase: "${PASS}", host: "h" },
      llm: { apiKey: "secret://global/KEY" },
      secrets: { stores: { vault: { type: "vault", token: MASK } } },
    });
    expect(config.remote.password).toBe("hunter2-long");
    const yaml = "remote:\n  password: hunter2-long # old\n  user: u\nwordpress:\n  appPassword: secret://shop/WP\n";
    expect(maskConfigText(yaml)).toBe(
      'remote:\n  password: "****" # old\n  user: u\nwordpress:\n  appPassword: secret://shop/WP\n',
    );
  });

  it("masks by the schema's path, not by the key's name", () => {
    // `token` under server is not a credential field; `password` under environments.<env>.remote is one
    const yaml =
      "server:\n  port: 8080\ncontent:\n  tone: password\nenvironments:\n  prod:\n    remote:\n      password: pw-1\n";
    expect(maskConfigText(yaml)).toBe(
      'server:\n  port: 8080\ncontent:\n  tone: password\nenvironments:\n  prod:\n    remote:\n      password: "****"\n',
    );
  });

  const fields = credentialFields(SiteConfigSchema);

  it("finds the credential fields of the shipped schema, store options included", () => {
    expect(fields.map((f) => f.path.join(".")).sort()).toEqual(
      expect.arrayContaining(["llm.apiKey", "remote.passphrase", "remote.password", "wordpress.appPassword"]),
    );
    expect(fields.some((f) => f.path[0] === "secrets")).toBe(true);
  });

  it.each(fields.map((f) => [f.path.join("."), f] as const))("every consumer treats %s as a credential", (_, field) => {
    expectEveryConsumerAgrees(SiteConfigSchema, field);
    // the API's version diffs mask through the same rule
    const path = _concrete(field.path);
    const diff = diffFiles({ "siteloom.yaml": "" }, { "siteloom.yaml": stringify(_dataAt(path, "plain-value-1")) });
    expect(diff).toContain(MASK);
    expect(diff).not.toContain("plain-value-1");
  });

  it("picks up a newly marked credential field everywhere, with no list to update", () => {
    const schema = SiteConfigSchema.extend({
      crm: z.strictObject({ clientSecret: credential(/(^|_)CRM_CLIENT_SECRET$/).optional(), region: z.string() }),
    });
    const added = credentialFields(schema).find((f) => f.path.join(".") === "crm.clientSecret");
    expect(added).toBeDefined();
    expectEveryConsumerAgrees(schema, added!);
    // and only the marked field: its neighbour is not a credential anywhere
    expect(isCredentialInFile(["crm", "region"], schema)).toBe(false);
    expect(maskCredentials({ crm: { region: "eu" } }, schema)).toEqual({ crm: { region: "eu" } });
    expect(isCredentialVariable("CRM_REGION", schema)).toBe(false);
  });
});

// --- internal ---

/** Asks each consumer of the credential rule about `field` of `schema`. */
function expectEveryConsumerAgrees(schema: ZodType, field: CredentialField): void {
  const path = _concrete(field.path);
  const value = "plain-value-1";
  const data = _dataAt(path, value);
  const yaml = stringify(data);
  const envYaml = stringify({ environments: { production: data } });

  // the path rule, top level and in an environments block
  expect(isCredentialInFile(path, schema)).toBe(true);
  expect(isCredentialInFile(["environments", "production", ...path], schema)).toBe(true);
  // masking of objects (config show, GET /config) and of YAML text (version history and diffs)
  expect(JSON.stringify(maskCredentials(data, schema))).not.toContain(value);
  for (const text of [yaml, envYaml]) {
    const masked = maskConfigText(text, schema);
    expect(masked).not.toContain(value);
    expect(masked).toContain(MASK);
  }
  // the plaintext scan of `secrets migrate` (secret stores' own credentials stay where they are, by design)
  if (path[0] !== "secrets") {
    expect(scanYaml(yaml, "siteloom.yaml", "global", schema).map((f) => f.path.join("."))).toEqual([path.join(".")]);
  }
  // .env variables named after the field's conventional name or its key
  const key = path
    .at(-1)!
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toUpperCase();
  expect(isCredentialVariable(`SOME_${key}`, schema)).toBe(true);
  // the write guard: a change to it needs the right to change credentials (or its section's stronger guard)
  expect(
    guardedFields(schema).some((g) => _covers(g.path, field.path) && (g.guard === "credential" || g.guard === "store")),
  ).toBe(true);
  expect(guardedChanges({}, data, schema).length).toBeGreaterThan(0);
}

function _concrete(path: string[]): string[] {
  return path.map((p) => (p === "*" ? "main" : p));
}

/** `{ a: { b: value } }` for path a.b; a store gets the type its credential belongs to. */
function _dataAt(path: string[], value: string): Record<string, unknown> {
  let out: unknown = value;
  for (const key of [...path].reverse()) out = { [key]: out };
  const data = out as Record<string, unknown>;
  if (path[0] === "secrets") {
    const store = (data.secrets as { stores: { main: Record<string, unknown> } }).stores.main;
    store.type = _storeTypeWith(path.at(-1)!);
  }
  return data;
}

function _storeTypeWith(key: string): string {
  for (const option of (
    SiteConfigSchema.shape.secrets.unwrap().shape.stores.unwrap().valueType as z.ZodDiscriminatedUnion
  ).options as z.ZodObject[]) {
    if (key in option.shape) return String((option.shape.type as z.ZodLiteral).value);
  }
  return "unknown";
}

function _covers(guardPath: string[], fieldPath: string[]): boolean {
  return guardPath.length <= fieldPath.length && guardPath.every((p, i) => p === fieldPath[i]);
}
