import { createHash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** path → sha256 of every file under dir (paths with `/`, sorted): compares what landed on a server byte for byte. */
export async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) await walk(path);
      else
        out.set(
          path,
          createHash("sha256")
            .update(await readFile(join(dir, path)))
            .digest("hex"),
        );
    }
  };
  await walk("");
  return out;
}

/** The tree without the deploy manifest folder (`.siteloom/`) that deploy keeps on the server. */
export function withoutManifest(remote: Map<string, string>): Map<string, string> {
  return new Map([...remote].filter(([path]) => !path.startsWith(".siteloom/")));
}
