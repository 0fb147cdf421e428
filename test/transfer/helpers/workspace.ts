import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { useTempDir } from "../../support/cli.ts";

/**
 * A workspace with one site, "demo", whose site.yaml is `siteYaml`. The server's password is a `${VAR}` reference, so
 * siteloom.yaml declares the variables of `env` (the test server's) as the ones it may read.
 */
export async function demoWorkspace(prefix: string, env: Record<string, string>, siteYaml: Record<string, unknown>) {
  const ws = await useTempDir(prefix);
  await writeFile(join(ws, "siteloom.yaml"), `environment: staging\nenv: ${JSON.stringify(Object.keys(env))}\n`);
  const site = join(ws, "sites/demo");
  await mkdir(site, { recursive: true });
  await writeFile(join(site, "site.yaml"), JSON.stringify(siteYaml, null, 2));
  return { ws, site, output: join(site, "output"), exportDir: join(site, "export") };
}
