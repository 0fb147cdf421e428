import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { SiteloomError } from "../errors.ts";
import { writePrivateFile } from "../files.ts";
import { registerSecretValue } from "../secret.ts";
import { ensurePrivateDir } from "./fs-util.ts";

/** An unlocked age X25519 identity and where it came from (for messages; never the key itself). */
export interface LoadedIdentity {
  /** `AGE-SECRET-KEY-1...` lines. */
  identities: string[];
  /** Public keys (`age1...`) of those identities. */
  recipients: string[];
  /** "SITELOOM_AGE_IDENTITY", or the key file path. */
  source: string;
}

export interface IdentityLocationOptions {
  /** Workspace root: the default key file name is derived from it. */
  root: string;
  env: string;
  /** `identityFile` from the store config (absolute or relative to `root`). */
  identityFile?: string | undefined;
  /** Variables (XDG_CONFIG_HOME, HOME, SITELOOM_AGE_IDENTITY, SITELOOM_AGE_IDENTITY_FILE). @default process.env */
  vars?: Record<string, string | undefined>;
}

/** `$XDG_CONFIG_HOME/siteloom` (or `~/.config/siteloom`). */
export function configDir(vars: Record<string, string | undefined> = process.env): string {
  const base = vars.XDG_CONFIG_HOME || join(vars.HOME || homedir(), ".config");
  return join(base, "siteloom");
}

/** A stable id of a workspace: its folder name plus a short hash of its absolute path. */
export function workspaceId(root: string): string {
  const name = basename(root).replace(/[^A-Za-z0-9._-]/g, "_") || "workspace";
  return `${name}-${createHash("sha256").update(root).digest("hex").slice(0, 10)}`;
}

/** Where the identity of (workspace, env) is kept when no variable names one. */
export function defaultIdentityPath(options: IdentityLocationOptions): string {
  const vars = options.vars ?? process.env;
  if (options.identityFile) {
    return options.identityFile.startsWith("/") ? options.identityFile : join(options.root, options.identityFile);
  }
  return join(configDir(vars), `${workspaceId(options.root)}.${options.env}.key`);
}

/**
 * Loads the identity: SITELOOM_AGE_IDENTITY (the key itself, for CI), SITELOOM_AGE_IDENTITY_FILE, then the key file
 * in the user's config directory. Returns undefined when none exists. A key file readable by group or others is
 * refused, as ssh refuses such a private key.
 */
export async function loadIdentity(options: IdentityLocationOptions): Promise<LoadedIdentity | undefined> {
  const vars = options.vars ?? process.env;
  if (vars.SITELOOM_AGE_IDENTITY) {
    return _parse(vars.SITELOOM_AGE_IDENTITY, "SITELOOM_AGE_IDENTITY");
  }
  const file = vars.SITELOOM_AGE_IDENTITY_FILE || defaultIdentityPath(options);
  if (!existsSync(file)) {
    if (vars.SITELOOM_AGE_IDENTITY_FILE) {
      throw new SiteloomError(
        "ERR_SECRET_LOCKED",
        `SITELOOM_AGE_IDENTITY_FILE names ${file}, which does not exist; point it at an age identity file (AGE-SECRET-KEY-1...)`,
      );
    }
    return undefined;
  }
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) {
    throw new SiteloomError(
      "ERR_PERMISSIONS",
      `identity ${file} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); it must be private: run chmod 600 ${file}`,
    );
  }
  return _parse(await readFile(file, "utf8"), file);
}

/** Creates a new X25519 identity file (0600, directory 0700); refuses to overwrite an existing one. */
export async function createIdentityFile(file: string): Promise<LoadedIdentity> {
  if (existsSync(file)) {
    throw new SiteloomError("ERR_SECRET_BACKEND", `identity ${file} already exists; it is not replaced`);
  }
  await ensurePrivateDir(join(file, ".."));
  const { generateX25519Identity, identityToRecipient } = await import("age-encryption");
  const identity = await generateX25519Identity();
  registerSecretValue(identity);
  const recipient = await identityToRecipient(identity);
  const text = `# created: ${new Date().toISOString()} by siteloom\n# public key: ${recipient}\n${identity}\n`;
  await writePrivateFile(file, text);
  return { identities: [identity], recipients: [recipient], source: file };
}

// --- internal ---

async function _parse(text: string, source: string): Promise<LoadedIdentity> {
  const identities = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (identities.length === 0 || identities.some((l) => !l.startsWith("AGE-SECRET-KEY-1"))) {
    throw new SiteloomError(
      "ERR_SECRET_LOCKED",
      `${source} does not hold an age X25519 identity (expected lines starting with AGE-SECRET-KEY-1, as age-keygen writes)`,
    );
  }
  for (const id of identities) registerSecretValue(id);
  const recipients: string[] = [];
  const { identityToRecipient } = await import("age-encryption");
  for (const id of identities) {
    try {
      recipients.push(await identityToRecipient(id));
    } catch {
      throw new SiteloomError("ERR_SECRET_LOCKED", `${source} holds an invalid age identity (damaged key)`);
    }
  }
  return { identities, recipients, source };
}
