// The corpus of real-world sites: generated at test time by the real generators from Debian
// (scripts/setup-site-generators.sh) and WordPress's bundled themes (scripts/setup-wordpress.sh), plus hand-written fixtures of structures the generators do not make.
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { FIXTURES } from "../support.ts";
import { encodingSites } from "./encodings.ts";
import { wordpressSites } from "./wordpress.ts";

/** One site of the corpus: its built pages and one of its own content pages to compare with. */
export interface CorpusSite {
  name: string;
  /** Folder of the built site (what export/ would hold). */
  dir: string;
  /** Site path of one of the site's own content pages. */
  ownPage: string;
  /** Set when the generator is missing: the site is reported as skipped. */
  missing?: string;
  /**
   * The site's content column when its region's first paragraph does not run in it (a one-page theme's grid of
   * cards): the article is measured against this element's content box instead.
   */
  column?: string;
  /** `enrich:` settings the site needs, as its docs tell a user (a one-page theme's content section). */
  enrich?: Record<string, unknown>;
}

/** Whether a command is on the PATH (a generator not installed makes its site a skipped one). */
export async function hasCommand(command: string): Promise<boolean> {
  try {
    await promisify(execFile)("sh", ["-c", `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

/** Builds every corpus site under `root`. Generators run one after another (the machine has few cores). */
export async function generateCorpus(root: string): Promise<CorpusSite[]> {
  const sites: CorpusSite[] = [];
  await mkdir(root, { recursive: true });
  for (const make of [
    jekyllMinima,
    pelicanTheme("simple"),
    pelicanTheme("notmyidea"),
    mkdocsTheme("mkdocs"),
    mkdocsTheme("readthedocs"),
    hugoNewTheme,
    sphinxQuickstart,
  ]) {
    sites.push(await make(root));
  }
  sites.push(await startBootstrap(root, "clean-blog", "about.html"));
  // A one-page theme: enriched the way docs/enrichment.md ("One-page sites") tells a user to.
  sites.push({
    ...(await startBootstrap(root, "agency", "index.html")),
    column: "#services .container",
    enrich: {
      contentSelector: "#services .container",
      remove: ["header.masthead", "#portfolio", "#about", "#team", "#contact"],
    },
  });
  sites.push(...(await wordpressSites(join(root, "wordpress"))));
  for (const [name, ownPage] of [
    ["bootstrap-masthead", "about.html"],
    ["navbar-in-main", "about.html"],
    ["base-table", "pages/classes.html"],
  ] as const) {
    const dir = join(root, name);
    await cp(join(FIXTURES, name), dir, { recursive: true });
    sites.push({ name, dir, ownPage });
  }
  // The hand-written one-page theme (sections, no content page), enriched as "One-page sites" in the docs says.
  const onePage = join(root, "one-page");
  await cp(join(FIXTURES, "one-page"), onePage, { recursive: true });
  sites.push({
    name: "one-page",
    dir: onePage,
    ownPage: "index.html",
    column: "#services .container",
    enrich: { contentSelector: "#services .container", remove: ["header.masthead", "#team"] },
  });
  sites.push(...(await encodingSites(root)));
  return sites;
}

// --- internal ---

const PARAGRAPH =
  "Our workshop has been making things by hand for thirty years. Here we write about tools, materials and the small decisions that make a piece last.";

async function jekyllMinima(root: string): Promise<CorpusSite> {
  const src = join(root, "jekyll-src");
  const site = { name: "jekyll-minima", dir: join(src, "_site"), ownPage: "about/index.html" };
  if (!(await hasCommand("jekyll"))) return { ...site, missing: "jekyll" };
  await _run("jekyll", ["new", "--skip-bundle", src], root);
  // Without bundler: Debian's jekyll finds the minima theme and plugins installed as system gems.
  await _run("rm", ["-f", join(src, "Gemfile"), join(src, "Gemfile.lock")], root);
  await _run("jekyll", ["build", "--quiet", "-s", src, "-d", site.dir], src);
  return site;
}

/**
 * Pelican with one of its two bundled themes. Debian's package ships "simple" only ("notmyidea" was removed for its
 * non-free files, /usr/share/doc/pelican/README.Debian): a theme `pelican-themes -l` does not list is a skipped site.
 */
function pelicanTheme(theme: string): (root: string) => Promise<CorpusSite> {
  return (root) => _pelican(root, theme);
}

async function _pelican(root: string, theme: string): Promise<CorpusSite> {
  const src = join(root, `pelican-${theme}-src`);
  const site = { name: `pelican-${theme}`, dir: join(root, `pelican-${theme}-out`), ownPage: "pages/about.html" };
  if (!(await hasCommand("pelican"))) return { ...site, missing: "pelican" };
  const themes = await promisify(execFile)("pelican-themes", ["-l"]).catch(() => ({ stdout: "" }));
  if (!themes.stdout.split(/\s+/).some((t) => t === theme || t.endsWith(`/${theme}`))) {
    return { ...site, missing: `pelican's ${theme} theme` };
  }
  await mkdir(join(src, "content", "pages"), { recursive: true });
  for (const [i, title] of ["Choosing timber", "Sharpening chisels", "Finishing oils"].entries()) {
    await writeFile(
      join(src, "content", `post-${i}.md`),
      `Title: ${title}\nDate: 2025-0${i + 1}-10\nCategory: Workshop\n\n${PARAGRAPH}\n\n${PARAGRAPH}\n`,
    );
  }
  await writeFile(join(src, "content", "pages", "about.md"), `Title: About\n\n${PARAGRAPH}\n\n${PARAGRAPH}\n`);
  await writeFile(
    join(src, "pelicanconf.py"),
    'AUTHOR = "Ann"\nSITENAME = "Oak and Iron"\nSITEURL = ""\nTIMEZONE = "UTC"\nDEFAULT_LANG = "en"\nRELATIVE_URLS = True\nFEED_ALL_ATOM = None\nCATEGORY_FEED_ATOM = None\n',
  );
  await _run(
    "pelican",
    [join(src, "content"), "-s", join(src, "pelicanconf.py"), "-o", site.dir, "-t", theme, "-q"],
    src,
  );
  return site;
}

function mkdocsTheme(theme: string): (root: string) => Promise<CorpusSite> {
  return async (root) => {
    const src = join(root, `mkdocs-${theme}-src`);
    const site = { name: `mkdocs-${theme}`, dir: join(root, `mkdocs-${theme}-out`), ownPage: "about/index.html" };
    if (!(await hasCommand("mkdocs"))) return { ...site, missing: "mkdocs" };
    await _run("mkdocs", ["new", src], root);
    await writeFile(join(src, "docs", "about.md"), `# About\n\n${PARAGRAPH}\n\n## History\n\n${PARAGRAPH}\n`);
    await writeFile(join(src, "docs", "guide.md"), `# Guide\n\n${PARAGRAPH}\n\n## Tools\n\n${PARAGRAPH}\n`);
    await writeFile(
      join(src, "mkdocs.yml"),
      "site_name: Oak and Iron Docs\nnav:\n  - Home: index.md\n  - About: about.md\n  - Guide: guide.md\n",
    );
    await _run("mkdocs", ["build", "-q", "-t", theme, "-f", join(src, "mkdocs.yml"), "-d", site.dir], src);
    return site;
  };
}

async function hugoNewTheme(root: string): Promise<CorpusSite> {
  const src = join(root, "hugo-src");
  const site = { name: "hugo-new-theme", dir: join(root, "hugo-out"), ownPage: "about/index.html" };
  if (!(await hasCommand("hugo"))) return { ...site, missing: "hugo" };
  await _run("hugo", ["new", "site", src], root);
  await _run("hugo", ["new", "theme", "plain"], src);
  // The skeleton `hugo new theme` makes has empty layouts; these few lines fill them the way its comments suggest.
  const layouts = join(src, "themes", "plain", "layouts");
  await writeFile(
    join(layouts, "partials", "header.html"),
    '<header><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a><nav><ul>{{ range .Site.Menus.main }}<li><a href="{{ .URL | relURL }}">{{ .Name }}</a></li>{{ end }}</ul></nav></header>\n',
  );
  await writeFile(join(layouts, "partials", "footer.html"), "<footer><p>&copy; {{ .Site.Title }}</p></footer>\n");
  await writeFile(
    join(layouts, "_default", "single.html"),
    '{{ define "main" }}<article><h1>{{ .Title }}</h1>{{ .Content }}</article>{{ end }}\n',
  );
  await writeFile(
    join(layouts, "_default", "list.html"),
    '{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}\n',
  );
  await writeFile(join(layouts, "index.html"), '{{ define "main" }}<h1>{{ .Site.Title }}</h1>{{ end }}\n');
  await _run("rm", ["-f", join(src, "hugo.toml")], src);
  await writeFile(
    join(src, "config.toml"),
    'baseURL = "/"\nrelativeURLs = true\ntitle = "Oak and Iron"\ntheme = "plain"\nlanguageCode = "en"\n' +
      '[[menu.main]]\nname = "Home"\nurl = "/"\nweight = 1\n[[menu.main]]\nname = "About"\nurl = "/about/"\nweight = 2\n',
  );
  await mkdir(join(src, "content", "posts"), { recursive: true });
  await writeFile(join(src, "content", "about.md"), `---\ntitle: "About"\n---\n${PARAGRAPH}\n\n${PARAGRAPH}\n`);
  await writeFile(
    join(src, "content", "posts", "timber.md"),
    `---\ntitle: "Choosing timber"\ndate: 2025-01-02\n---\n${PARAGRAPH}\n`,
  );
  await _run("hugo", ["--quiet", "-s", src, "-d", site.dir], src);
  return site;
}

async function sphinxQuickstart(root: string): Promise<CorpusSite> {
  const src = join(root, "sphinx-src");
  const site = { name: "sphinx-alabaster", dir: join(root, "sphinx-out"), ownPage: "about.html" };
  if (!(await hasCommand("sphinx-build"))) return { ...site, missing: "sphinx-build" };
  await _run("sphinx-quickstart", ["-q", "-p", "Oak and Iron", "-a", "Ann", "-v", "1.0", "-l", "en", src], root);
  for (const [name, title] of [
    ["about", "About"],
    ["guide", "Guide"],
  ]) {
    const rule = "=".repeat(title!.length);
    await writeFile(
      join(src, `${name}.rst`),
      `${title}\n${rule}\n\n${PARAGRAPH}\n\nHistory\n-------\n\n${PARAGRAPH}\n`,
    );
  }
  // The quickstart's index has an empty toctree: the two pages go into it, as its comment asks.
  const index = join(src, "index.rst");
  const text = await readFile(index, "utf8");
  await writeFile(index, text.replace(":caption: Contents:\n", ":caption: Contents:\n\n   about\n   guide\n"));
  await _run("sphinx-build", ["-q", "-b", "html", src, site.dir], src);
  return site;
}

/**
 * A Start Bootstrap template as its npm package publishes it (dist/, built by its authors; a devDependency), the
 * way a user downloads a template and puts their site into it.
 */
async function startBootstrap(root: string, theme: string, ownPage: string): Promise<CorpusSite> {
  const dir = join(root, `startbootstrap-${theme}`);
  await cp(join(REQUIRE.resolve(`startbootstrap-${theme}/package.json`), "..", "dist"), dir, { recursive: true });
  return { name: `startbootstrap-${theme}`, dir, ownPage };
}

const REQUIRE = createRequire(import.meta.url);

async function _run(cmd: string, args: string[], cwd: string): Promise<void> {
  try {
    await promisify(execFile)(cmd, args, { cwd, env: { ...process.env, LANG: "C.UTF-8" }, maxBuffer: 16 << 20 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}
