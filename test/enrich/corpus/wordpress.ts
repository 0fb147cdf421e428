// WordPress's bundled themes in the corpus: one real WordPress (Debian's package, Apache/mod_php, MariaDB; started
// once by test/support/wordpress.ts) gets a few pages, posts and a menu; for every theme Debian ships under
// wp-content/themes, the theme is switched on and the site mirrored to static HTML with `wget --mirror`, the way a
// user downloads a live WordPress site.
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { startWordpress, WORDPRESS_DIR } from "../../support/wordpress.ts";
import { type CorpusSite, hasCommand } from "./generators.ts";

/** Pages made in WordPress (title, slug); posts get dates in order so the listing is stable. */
const PAGES = [
  ["About", "about"],
  ["Contact", "contact"],
] as const;
const POSTS = ["Choosing timber", "Sharpening chisels", "Finishing oils"];
const PARAGRAPH =
  "Our workshop has been making things by hand for thirty years. Here we write about tools, materials and the small decisions that make a piece last.";

/**
 * Mirrors WordPress with every bundled theme under `root` (`wordpress-<theme>`). WordPress starts once; a theme
 * switch and one mirror cost about a second each. Missing tools make one skipped entry.
 */
export async function wordpressSites(root: string): Promise<CorpusSite[]> {
  const themes = (await readdir(join(WORDPRESS_DIR, "wp-content", "themes")).catch(() => [] as string[])).sort();
  const missing = (await hasCommand("wget")) ? undefined : "wget";
  if (themes.length === 0 || missing) {
    return [{ name: "wordpress", dir: root, ownPage: "about/index.html", missing: missing ?? "wordpress" }];
  }
  const wp = await startWordpress({ title: "Oak and Iron" });
  try {
    await wp.php(
      `require_once ABSPATH . 'wp-admin/includes/taxonomy.php';
foreach ($input['pages'] as [$title, $slug]) {
  wp_insert_post(['post_type' => 'page', 'post_status' => 'publish', 'post_title' => $title, 'post_name' => $slug,
    'post_content' => "<!-- wp:paragraph --><p>{$input['text']}</p><!-- /wp:paragraph --><!-- wp:paragraph --><p>{$input['text']}</p><!-- /wp:paragraph -->"]);
}
$cat = wp_create_category('Workshop');
foreach ($input['posts'] as $i => $title) {
  wp_insert_post(['post_status' => 'publish', 'post_title' => $title, 'post_category' => [$cat],
    'post_date' => sprintf('2025-0%d-10 09:00:00', $i + 1), 'comment_status' => 'closed',
    'post_content' => "<!-- wp:paragraph --><p>{$input['text']}</p><!-- /wp:paragraph -->"]);
}
wp_delete_post(1, true); // "Hello world!"
wp_delete_post(2, true); // "Sample Page"
// Classic themes show a menu only when one is assigned to their location.
$menu = wp_create_nav_menu('Main');
wp_update_nav_menu_item($menu, 0, ['menu-item-title' => 'Home', 'menu-item-url' => home_url('/'), 'menu-item-status' => 'publish']);
foreach (get_pages() as $p) {
  wp_update_nav_menu_item($menu, 0, ['menu-item-object' => 'page', 'menu-item-object-id' => $p->ID, 'menu-item-type' => 'post_type', 'menu-item-status' => 'publish']);
}
update_option('wp_corpus_menu', $menu);
update_option('blogdescription', 'Hand tools and slow furniture');
echo "ok";`,
      { pages: PAGES, posts: POSTS, text: PARAGRAPH },
    );
    const sites: CorpusSite[] = [];
    for (const theme of themes) {
      await wp.php(`switch_theme($input['theme']); echo "ok";`, { theme });
      // A second run loads the new theme, so its menu locations are registered.
      await wp.php(
        `$locations = [];
foreach (array_keys(get_registered_nav_menus()) as $l) $locations[$l] = (int) get_option('wp_corpus_menu');
set_theme_mod('nav_menu_locations', $locations);
echo "ok";`,
        { theme },
      );
      const dir = join(root, `wordpress-${theme}`);
      await _mirror(wp.url, wp.caFile, dir);
      sites.push({ name: `wordpress-${theme}`, dir, ownPage: "about/index.html" });
    }
    return sites;
  } finally {
    await wp.stop();
  }
}

// --- internal ---

/**
 * `wget --mirror` as a user downloads a site: pages and what they need, links made relative; WordPress's dynamic
 * endpoints (admin, login, REST, feeds, XML-RPC, oEmbed, search) are not pages of the site and are left out.
 */
async function _mirror(url: string, caFile: string, dir: string): Promise<void> {
  const args = [
    "--mirror",
    "--page-requisites",
    "--convert-links",
    "--adjust-extension",
    "--no-host-directories",
    "--no-verbose",
    "--execute=robots=off",
    `--ca-certificate=${caFile}`,
    "--reject-regex=/(wp-admin|wp-login\\.php|wp-json|xmlrpc\\.php|feed|comments/feed|embed)(/|\\?|$)|[?&](p|page_id|s|replytocom|rest_route)=",
    `--directory-prefix=${dir}`,
    `${url}/`,
  ];
  try {
    await promisify(execFile)("wget", args, { maxBuffer: 16 << 20 });
  } catch (error) {
    // wget exits 8 when some URL answered with an error (a theme linking a missing asset): the mirror is still whole.
    const e = error as { code?: number; stderr?: string; message: string };
    if (e.code !== 8) throw new Error(`wget --mirror ${url} failed: ${e.stderr || e.message}`);
  }
}
