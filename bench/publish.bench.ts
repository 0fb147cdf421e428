// `npm run bench -- publish`: requests per new and unchanged article, and the time to publish 50 articles at
// concurrency 1 and 4, against the local WordPress of the tests (test/support/wordpress.ts; needs
// scripts/setup-wordpress.sh). Requests are what the publish reports (every try counts) and Apache logged.
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { startWordpress, type WordpressServer, writePublishingSite } from "../test/support/wordpress.ts";
import type { BenchRow, BenchSuite } from "./support.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

const suite: BenchSuite = async () => {
  const wp = await startWordpress();
  const rows: BenchRow[] = [];
  try {
    const dir = join(wp.dir, "bench");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "siteloom.yaml"), stringify({ llm: { provider: "offline" }, env: ["WP_APP_PASSWORD"] }));
    const cli = async (args: string[]) => {
      const { stdout } = await run(process.execPath, [BIN, "--workspace", dir, ...args], {
        env: { ...process.env, WP_APP_PASSWORD: wp.admin.appPassword },
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    };
    const publish = async (site: string) => {
      const started = performance.now();
      const report = JSON.parse(await cli(["publish", site, "--json"])) as { requests: number; created: string[] };
      return { ...report, ms: performance.now() - started };
    };

    const perArticle = (name: string, requests: number, target: string, note?: string): BenchRow => ({
      group: "publish",
      name,
      value: requests / 10,
      unit: "req",
      target,
      ok: requests / 10 <= Number(target.replace(/[^\d.]/g, "")),
      ...(note ? { note } : {}),
    });
    await makeSite(wp, dir, cli, "plain", 10, { images: false, concurrency: 2 });
    const plain = await publish("plain");
    rows.push(
      perArticle(
        "requests per new article (no image)",
        plain.requests,
        "≤ 4",
        `${plain.requests} requests for 10 linked articles, run overhead included`,
      ),
    );
    const again = await publish("plain");
    rows.push(perArticle("requests per unchanged article", again.requests, "0"));
    await makeSite(wp, dir, cli, "pictures", 10, { images: true, concurrency: 2 });
    const pictures = await publish("pictures");
    rows.push(
      perArticle(
        "requests per new article (featured image)",
        pictures.requests,
        "≤ 6",
        `${pictures.requests} requests, 10 distinct images`,
      ),
    );
    for (const concurrency of [1, 4]) {
      const site = `fifty-c${concurrency}`;
      await makeSite(wp, dir, cli, site, 50, { images: false, concurrency });
      const r = await publish(site);
      rows.push({
        group: "publish",
        name: `50 new articles, concurrency ${concurrency}`,
        value: r.ms / 1000,
        unit: "s",
        note: `${r.requests} requests; Apache mod_php + MariaDB on loopback, 2 cores`,
      });
    }
  } finally {
    await wp.stop();
  }
  return rows;
};
export default suite;

async function makeSite(
  wp: WordpressServer,
  dir: string,
  cli: (args: string[]) => Promise<string>,
  name: string,
  count: number,
  o: { images: boolean; concurrency: number },
): Promise<void> {
  const siteDir = join(dir, "sites", name);
  await writePublishingSite(wp, siteDir, { status: "publish", concurrency: o.concurrency });
  const topics = Array.from({ length: count }, (_, i) => `${name} topic ${i + 1},flour,Bread`);
  await writeFile(join(siteDir, "topics.csv"), `topic,keywords,category\n${topics.join("\n")}\n`);
  await cli(["generate", name]);
  const folder = join(siteDir, "articles");
  const files = (await readdir(folder)).filter((f) => f.endsWith(".json")).sort();
  if (o.images) {
    await wp.php(
      "foreach ($input as $i => $file) { $im = imagecreatetruecolor(64, 48); imagefill($im, 0, 0, imagecolorallocate($im, $i * 20, 90, 160)); imagepng($im, $file); }",
      files.map((_, i) => join(siteDir, "export", "img", `p${i}.png`)),
    );
  }
  const slugs = files.map((f) => f.replace(/\.json$/, ""));
  for (const [i, file] of files.entries()) {
    const a = JSON.parse(await readFile(join(folder, file), "utf8"));
    a.status = "ready";
    a.tags = ["Crust"];
    a.bodyMarkdown += `\n\nSee [the next one](/blog/${slugs[(i + 1) % slugs.length]}/).\n`;
    if (o.images) a.image = { url: `/img/p${i}.png`, alt: `Picture ${i}` };
    await writeFile(join(folder, file), JSON.stringify(a));
  }
}
