/** The workspace's configuration file, at its root. */
export const WORKSPACE_FILE = "siteloom.yaml";
/** A site's configuration file: `sites/<name>/site.yaml`. */
export const SITE_FILE = "site.yaml";
/** The folder holding one folder per site. */
export const SITES_DIR = "sites";
