import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runCli, transformPaths, useTempDir } from "../support/cli.ts";

/** Each test spawns the CLI several times; on a busy 2-core machine one spawn can take seconds. */
const SLOW = 300_000;

describe("cli: init", { timeout: SLOW }, () => {
  it("creates siteloom.yaml with commented defaults and a schema line, .siteloom/ 0700, .gitignore entries", async () => {
    const dir = await useTempDir();
    await writeFile(join(dir, ".gitignore"), "node_modules/\noutput/\n");
    const result = await runCli(["init", "ws"], { cwd: dir });
    expect(result.code).toBe(0);
    const ws = join(dir, "ws");
    expect(transformPaths(result.stdout, dir)).toContain("Created workspace in <dir>/ws");
    const text = await readFile(join(ws, "siteloom.yaml"), "utf8");
    const schemaLine = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
    expect(schemaLine).not.toBeNull();
    // the line points at a schema file that exists
    const ref = schemaLine![1]!;
    const target = ref.startsWith("file://") ? new URL(ref) : join(ws, ref);
    expect(JSON.parse(await readFile(target, "utf8")).title).toMatch(/siteloom workspace/);
    expect(text).toMatch(/^# {3}parallel: 8 +# Connections in the pool$/m);
    expect(parse(text)).toEqual({ environment: "development" });
    expect((await stat(join(ws, ".siteloom"))).mode & 0o777).toBe(0o700);
    expect(existsSync(join(ws, "sites"))).toBe(true);
    expect(await readFile(join(ws, ".gitignore"), "utf8")).toBe(
      "# siteloom: mirrors, build output and local state\nexport/\noutput/\n.siteloom/\n",
    );
    // a .gitignore that exists keeps its lines and gets only what is missing
    const again = await runCli(["init", "--force"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe(
      "node_modules/\noutput/\n\n# siteloom: mirrors, build output and local state\nexport/\n.siteloom/\n",
    );
    const valid = await runCli(["config", "validate"], { cwd: ws });
    expect(valid.code).toBe(0);
  });

  it("refuses to overwrite a workspace without --force, and keeps sites with --force", async () => {
    const dir = await useTempDir();
    expect((await runCli(["init"], { cwd: dir })).code).toBe(0);
    await writeFile(join(dir, "siteloom.yaml"), "deploy:\n  parallel: 3\n");
    expect((await runCli(["site", "add", "shop", "--domain", "shop.example.com"], { cwd: dir })).code).toBe(0);
    const refused = await runCli(["init"], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `error: ${join(dir, "siteloom.yaml")} already exists; pass --force to overwrite it (sites/ and .siteloom/ are kept)\n`,
    );
    expect(await readFile(join(dir, "siteloom.yaml"), "utf8")).toBe("deploy:\n  parallel: 3\n");
    const forced = await runCli(["init", "--force"], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain("overwritten  siteloom.yaml");
    expect(await readFile(join(dir, "siteloom.yaml"), "utf8")).toContain("# yaml-language-server: $schema=");
    expect(existsSync(join(dir, "sites", "shop", "site.yaml"))).toBe(true);
  });

  it("--example copies the bundled example workspace, which validates and shows", async () => {
    const dir = await useTempDir();
    const result = await runCli(["init", dir, "--example"], { cwd: "/" });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("created      sites/example/site.yaml");
    expect((await readFile(join(dir, "sites", "example", "topics.csv"), "utf8")).split("\n")[0]).toBe(
      "topic,keywords,category,tags",
    );
    const validate = await runCli(["--workspace", dir, "config", "validate"], { cwd: "/" });
    expect(validate.stdout).toBe("valid: siteloom.yaml and 1 site, environments development, staging, production\n");
    const show = await runCli(["config", "show", "--site", "example", "--json"], {
      cwd: "/",
      env: { SITELOOM_WORKSPACE: dir, SITELOOM_ENV: "production" },
    });
    expect(show.code).toBe(0);
    const json = JSON.parse(show.stdout) as { environment: string; config: Record<string, Record<string, unknown>> };
    expect(json.environment).toBe("production");
    expect(json.config.domain).toBe("example.com");
    expect(json.config.features!.autoPublish).toBe(true);
    expect(json.config.deploy!.delete).toBe(true);
    const again = await runCli(["init", dir, "--example"], { cwd: "/" });
    expect(again.code).toBe(1);
  });
});

describe("cli: workspace discovery", { timeout: SLOW }, () => {
  it("walks up from the current folder, or uses --workspace / SITELOOM_WORKSPACE, else says what to do", async () => {
    const dir = await useTempDir();
    await runCli(["init"], { cwd: dir });
    await runCli(["site", "add", "shop", "--domain", "shop.example.com"], { cwd: dir });
    const deep = join(dir, "sites", "shop", "deep", "er");
    await mkdir(deep, { recursive: true });
    const list = await runCli(["site", "list", "--json"], { cwd: deep });
    expect(JSON.parse(list.stdout).sites.map((s: { name: string }) => s.name)).toEqual(["shop"]);
    const elsewhere = await useTempDir();
    const none = await runCli(["site", "list"], { cwd: elsewhere });
    expect(none.code).toBe(3);
    expect(none.stderr).toBe(
      "error: no siteloom.yaml found in this directory or any parent; run siteloom init, or pass --workspace <dir>\n",
    );
    expect((await runCli(["--workspace", dir, "site", "list", "--json"], { cwd: elsewhere })).code).toBe(0);
    const viaVar = await runCli(["site", "list", "--json"], { cwd: elsewhere, env: { SITELOOM_WORKSPACE: dir } });
    expect(JSON.parse(viaVar.stdout).sites).toHaveLength(1);
    const wrong = await runCli(["--workspace", elsewhere, "site", "list"], { cwd: dir });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(`no siteloom.yaml in ${elsewhere} (from --workspace)`);
  });
});

describe("cli: site commands", { timeout: SLOW }, () => {
  it("adds a site with site.yaml and topics.csv, rejects duplicates and bad names", async () => {
    const dir = await useTempDir();
    await runCli(["init"], { cwd: dir });
    const added = await runCli(
      [
        "site",
        "add",
        "shop",
        "--domain",
        "shop.example.com",
        "--protocol",
        "sftp",
        "--host",
        "sftp.example.com",
        "--port",
        "2222",
        "--user",
        "deploy",
        "--root",
        "/var/www",
      ],
      { cwd: dir },
    );
    expect(added.code).toBe(0);
    const site = parse(await readFile(join(dir, "sites", "shop", "site.yaml"), "utf8"));
    expect(site).toEqual({
      domain: "shop.example.com",
      remote: {
        protocol: "sftp",
        root: "/var/www",
        host: "sftp.example.com",
        port: 2222,
        user: "deploy",
        password: "secret://shop/SFTP_PASSWORD",
      },
    });
    expect(await readFile(join(dir, "sites", "shop", "topics.csv"), "utf8")).toBe("topic,keywords,category,tags\n");

    const dup = await runCli(["site", "add", "shop", "--domain", "x.example.com"], { cwd: dir });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^error: site "shop" already exists \(sites\/shop\/\); choose another name/);
    const bad = await runCli(["site", "add", "My Shop", "--domain", "x.example.com"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'error: invalid site name "My Shop": use lowercase letters, digits and hyphens (1-63 characters, no leading or trailing hyphen), e.g. "my-shop"\n',
    );
    const reserved = await runCli(["site", "add", "global", "--domain", "x.example.com"], { cwd: dir });
    expect(reserved.code).toBe(2);
    const domain = await runCli(["site", "add", "blog", "--domain", "not_a_domain"], { cwd: dir });
    expect(domain.code).toBe(2);
    expect(domain.stderr).toContain('--domain: expected a domain such as example.com, got "not_a_domain"');
    const port = await runCli(["site", "add", "blog", "--domain", "b.example.com", "--port", "abc"], { cwd: dir });
    expect(port.code).toBe(2);
    const missing = await runCli(["site", "add", "blog"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(existsSync(join(dir, "sites", "blog"))).toBe(false);
  });

  it("lists (table and --json) and shows sites with credentials masked", async () => {
    const dir = await useTempDir();
    await runCli(["init"], { cwd: dir });
    await runCli(["site", "add", "shop", "--domain", "shop.example.com", "--host", "ftp.example.com", "--user", "u"], {
      cwd: dir,
    });
    await runCli(["site", "add", "blog", "--domain", "blog.example.com"], { cwd: dir });
    await mkdir(join(dir, "sites", "blog", "output", "a"), { recursive: true });
    await writeFile(join(dir, "sites", "blog", "output", "a", "index.html"), "<p>hi</p>");
    await writeFile(join(dir, "sites", "blog", "topics.csv"), "topic,keywords,category,tags\nOne,,,\nTwo,,,\n");
    await writeFile(
      join(dir, "sites", "blog", "site.yaml"),
      "domain: blog.example.com\nremote:\n  password: plain-pw-1\n",
    );

    const table = await runCli(["site", "list"], { cwd: dir });
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^SITE +DOMAIN +PROTOCOL +HOST +CONFIG$/);
    expect(table.stdout).toMatch(/^shop +shop\.example\.com +ftp +ftp\.example\.com +ok$/m);
    const json = JSON.parse((await runCli(["site", "list", "--json"], { cwd: dir })).stdout);
    expect(json).toEqual({
      environment: "development",
      sites: [
        { name: "blog", domain: "blog.example.com", protocol: "ftp", host: null, valid: true },
        { name: "shop", domain: "shop.example.com", protocol: "ftp", host: "ftp.example.com", valid: true },
      ],
    });
    const shown = await runCli(["site", "show", "blog", "--json"], { cwd: dir });
    const info = JSON.parse(shown.stdout);
    expect(info).toMatchObject({ name: "blog", url: "https://blog.example.com/", contents: { output: 1, topics: 2 } });
    expect(info.remote.password).toBe("****");
    expect(shown.stdout).not.toContain("plain-pw-1");
    const text = await runCli(["site", "show", "shop"], { cwd: dir });
    expect(text.stdout).toContain("password   secret://shop/FTP_PASSWORD");
    const unknown = await runCli(["site", "show", "shpo"], { cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no site "shpo"');
    expect(unknown.stderr).toContain('did you mean "shop"?');
  });

  it("removes a site only with --yes when stdin is not a terminal, and says what export/ and output/ held", async () => {
    const dir = await useTempDir();
    await runCli(["init"], { cwd: dir });
    await runCli(["site", "add", "shop", "--domain", "shop.example.com"], { cwd: dir });
    await mkdir(join(dir, "sites", "shop", "export"), { recursive: true });
    await mkdir(join(dir, "sites", "shop", "output"), { recursive: true });
    await writeFile(join(dir, "sites", "shop", "export", "index.html"), "x");
    await writeFile(join(dir, "sites", "shop", "output", "index.html"), "x");
    await writeFile(join(dir, "sites", "shop", "output", "about.html"), "x");

    const refused = await runCli(["site", "remove", "shop"], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      'error: refusing to remove site "shop" and delete sites/shop/, including export/ (1 file), output/ (2 files) without confirmation; pass --yes\n',
    );
    expect(existsSync(join(dir, "sites", "shop", "output", "about.html"))).toBe(true);

    const kept = await runCli(["site", "remove", "shop", "--yes", "--keep-data"], { cwd: dir });
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain("Kept: sites/shop/export, sites/shop/output");
    expect(existsSync(join(dir, "sites", "shop", "site.yaml"))).toBe(false);
    expect(existsSync(join(dir, "sites", "shop", "output", "about.html"))).toBe(true);
    expect(JSON.parse((await runCli(["site", "list", "--json"], { cwd: dir })).stdout).sites).toEqual([]);

    await runCli(["site", "add", "blog", "--domain", "blog.example.com"], { cwd: dir });
    await mkdir(join(dir, "sites", "blog", "output"));
    await writeFile(join(dir, "sites", "blog", "output", "index.html"), "x");
    const removed = await runCli(["site", "remove", "blog", "--yes"], { cwd: dir });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe('Removed site "blog": deleted sites/blog/ (with output/ (1 file))\n');
    expect(existsSync(join(dir, "sites", "blog"))).toBe(false);
    const gone = await runCli(["site", "remove", "blog", "--yes"], { cwd: dir });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('no site "blog"');
  });

  it("site remove with recorded versions (the locks held, an older build's inside the folder too) lists and leaves no lock", async () => {
    const dir = await useTempDir();
    await runCli(["init"], { cwd: dir });
    for (const name of ["shop", "blog"]) {
      await runCli(["site", "add", name, "--domain", `${name}.example.com`], { cwd: dir });
      await mkdir(join(dir, "sites", name, "output"), { recursive: true });
      await writeFile(join(dir, "sites", name, "output", "index.html"), "x");
    }
    // a state.db: the CLI's writes are recorded, under the locks of every configuration file
    expect((await runCli(["config", "push"], { cwd: dir })).code).toBe(0);

    const kept = await runCli(["site", "remove", "shop", "--yes", "--keep-data"], { cwd: dir });
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stderr).toBe("");
    expect(kept.stdout).toBe(
      'Removed site "shop": deleted sites/shop/site.yaml, sites/shop/topics.csv\nKept: sites/shop/output\n',
    );
    expect(await readdir(join(dir, "sites", "shop"))).toEqual(["output"]);

    const removed = await runCli(["site", "remove", "blog", "--yes"], { cwd: dir });
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stderr).toBe("");
    expect(removed.stdout).toBe('Removed site "blog": deleted sites/blog/ (with output/ (1 file))\n');
    expect(await readdir(join(dir, "sites"))).toEqual(["shop"]);
  });
});

describe("cli: help and usage", { timeout: SLOW }, () => {
  it("prints help with an example, and an unknown command is a usage error (exit 2)", async () => {
    const dir = await useTempDir();
    const help = await runCli(["site", "add", "--help"], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n {2}\$ siteloom site add shop --domain shop\.example\.com/);
    const usage = await runCli(["no-such-command"], { cwd: dir });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown command 'no-such-command'");
  });
});
