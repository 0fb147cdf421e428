import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CliResult, type RunCliOptions, runCli, useTempDir } from "../support/cli.ts";

export interface TempWorkspace {
  root: string;
  /** $XDG_CONFIG_HOME of the spawned CLI (identities land under it). */
  xdg: string;
  /** Runs the built CLI in the workspace with XDG_CONFIG_HOME pointing into the temp dir. */
  cli(args: string[], options?: RunCliOptions): Promise<CliResult>;
}

/** A workspace in a temporary directory, with its own config directory so no real key is ever touched. */
export async function tempWorkspace(files: Record<string, string> = {}): Promise<TempWorkspace> {
  const dir = await useTempDir("siteloom-secrets-");
  const root = join(dir, "ws");
  const xdg = join(dir, "xdg");
  await mkdir(join(root, "sites", "shop"), { recursive: true });
  const all: Record<string, string> = {
    "siteloom.yaml": "environment: development\n",
    "sites/shop/site.yaml":
      "remote:\n  protocol: ftp\n  host: 127.0.0.1\n  port: 1\n  user: shop\n  password: secret://shop/FTP_PASSWORD\n",
    ...files,
  };
  for (const [name, text] of Object.entries(all)) {
    await mkdir(join(root, name, ".."), { recursive: true });
    await writeFile(join(root, name), text);
  }
  return {
    root,
    xdg,
    cli: (args, options = {}) =>
      runCli(args, { cwd: root, ...options, env: { XDG_CONFIG_HOME: xdg, NO_COLOR: "1", ...options.env } }),
  };
}

/** A value generated for this run. */
export function randomValue(prefix = "v"): string {
  return `${prefix}-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
}
