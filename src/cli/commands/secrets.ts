import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { SiteloomError } from "../../errors.ts";
import { currentActor, publishEvent } from "../../events.ts";
import type { ExportFormat, SecretStore } from "../../secrets/index.ts";
import type { Workspace } from "../../workspace/index.ts";
import { type CliContext, type RegisterCommands, usageError } from "../context.ts";

interface StoreOpt {
  store?: string;
}

/** secrets ... (credential manager) */
export const registerSecretsCommands: RegisterCommands = (program, ctx) => {
  const secrets = program
    .command("secrets")
    .description("Manage credentials: an age-encrypted store per environment, env/Docker/Kubernetes secrets, audit")
    .addHelpText(
      "after",
      `
Examples:
  siteloom secrets init --env production
  printf %s "$PASSWORD" | siteloom secrets set shop/FTP_PASSWORD --stdin --env production
  siteloom secrets list --scope shop
  siteloom secrets migrate --dry-run
References in siteloom.yaml / site.yaml: password: secret://shop/FTP_PASSWORD`,
    );

  secrets
    .command("init")
    .description("Create the identity (private key, kept in your config directory) and the store of the environment")
    .option("--store <name>", "store to initialise (default: the configured default)")
    .addHelpText(
      "after",
      `
Example:
  siteloom secrets init --env production
The key goes to $XDG_CONFIG_HOME/siteloom/ (mode 0600); in CI set SITELOOM_AGE_IDENTITY instead.`,
    )
    .action(async (opts: StoreOpt) => {
      const {
        createIdentityFile,
        defaultIdentityPath,
        defaultStoreName,
        isFileBackend,
        loadIdentity,
        openSecretStore,
        storeConfig,
      } = await import("../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const name = opts.store ?? defaultStoreName(ws);
      const config = storeConfig(ws, name);
      if (config.type !== "file") {
        usageError(`store "${name}" is a ${config.type} store; only file stores are created by init`);
      }
      let identityLine = "";
      if (!config.passphrase) {
        const vars = process.env;
        let identity = await loadIdentity({ root: ws.root, env: ws.env, identityFile: config.identityFile, vars });
        const storePath = resolve(ws.root, config.path.replaceAll("{env}", ws.env));
        if (!identity && existsSync(storePath)) {
          throw new SiteloomError(
            "ERR_SECRET_LOCKED",
            `${relative(ws.root, storePath)} exists but no identity to open it was found (looked for ${defaultIdentityPath({ root: ws.root, env: ws.env, identityFile: config.identityFile, vars })}); set SITELOOM_AGE_IDENTITY_FILE to its key instead of creating a new one`,
          );
        }
        if (!identity) {
          identity = await createIdentityFile(
            defaultIdentityPath({ root: ws.root, env: ws.env, identityFile: config.identityFile, vars }),
          );
          identityLine = `created identity ${identity.source} (keep it safe; without it the store cannot be opened)`;
        } else {
          identityLine = `using identity ${identity.source}`;
        }
        identityLine += `\npublic key: ${identity.recipients.join(", ")}`;
      }
      const store = openSecretStore(ws, { name, askPassphrase: _askNewPassphrase() });
      const backend = store.backend;
      if (!isFileBackend(backend)) throw new SiteloomError("ERR_INTERNAL", "file store expected");
      let created = false;
      if (!backend.exists()) {
        await backend.init();
        created = true;
        publishEvent({
          action: "init",
          ref: `store:${name}`,
          store: name,
          env: ws.env,
          actor: currentActor(),
          outcome: "ok",
        });
      } else {
        await store.test();
      }
      const path = relative(ws.root, backend.path);
      if (ctx.globals().json) {
        ctx.printJson({ store: name, env: ws.env, path, created });
        return;
      }
      if (identityLine) ctx.print(identityLine);
      ctx.print(created ? `created store ${path} (${ws.env})` : `store ${path} (${ws.env}) already exists and opens`);
      ctx.info(
        `recovery without siteloom: age -d -i ${config.passphrase ? "(passphrase)" : "<identity file>"} ${path} (the content is JSON)`,
      );
    });

  secrets
    .command("set <ref>")
    .description(
      "Store a secret (a new version if it exists); the value comes from a hidden prompt, --stdin or --from-file",
    )
    .option("--stdin", "read the value from standard input (one trailing newline removed)")
    .option("--from-file <file>", "read the value from a file (one trailing newline removed)")
    .option("--store <name>", "store to write to")
    .addHelpText(
      "after",
      `
Examples:
  siteloom secrets set shop/FTP_PASSWORD                 (asks, without echo)
  printf %s "$PW" | siteloom secrets set shop/FTP_PASSWORD --stdin --env production
Values are never taken from arguments: they would end up in shell history and process lists.`,
    )
    .action(async (ref: string, opts: StoreOpt & { stdin?: boolean; fromFile?: string }) => {
      const [{ readSecretValue }, { parseSecretReference }] = await Promise.all([
        import("../../secrets/index.ts"),
        import("../../config/index.ts"),
      ]);
      const parsed = parseSecretReference(ref);
      const { ws, store } = await _open(ctx, opts);
      const value = await readSecretValue({ stdin: opts.stdin, fromFile: opts.fromFile, label: parsed.raw });
      const version = await store.set(parsed.raw, value);
      _done(
        ctx,
        { ref: parsed.raw, store: store.name, env: ws.env, version },
        `set ${parsed.raw} (version ${version}) in store "${store.name}" (${ws.env})`,
      );
    });

  secrets
    .command("get <ref>")
    .description("Show a secret: **** unless --reveal (which is audited)")
    .option("--reveal", "print the plain value")
    .option("--store <name>", "store to read from")
    .addHelpText("after", `\nExample:\n  siteloom secrets get secret://shop/FTP_PASSWORD --reveal --env production`)
    .action(async (ref: string, opts: StoreOpt & { reveal?: boolean }) => {
      const { parseSecretReference } = await import("../../config/index.ts");
      const { ws, store } = await _open(ctx, opts);
      const secret = opts.reveal ? await store.reveal(ref) : await store.get(ref);
      const parsed = parseSecretReference(ref);
      if (ctx.globals().json) {
        const doc = { ref: parsed.raw, store: store.name, env: ws.env, value: opts.reveal ? secret.reveal() : "****" };
        // the one place a value is written on purpose: bypass the masking printer
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else if (opts.reveal) {
        process.stdout.write(`${secret.reveal()}\n`);
      } else {
        ctx.print(`${parsed.raw} = **** (store "${store.name}", ${ws.env}; --reveal to show)`);
      }
    });

  secrets
    .command("list")
    .description("List secrets: names, scope, store, version and dates — never values")
    .option("--scope <scope>", "only this site (or global)")
    .option("--store <name>", "store to list")
    .addHelpText("after", `\nExample:\n  siteloom secrets list --scope shop --json`)
    .action(async (opts: StoreOpt & { scope?: string }) => {
      const { ws, store } = await _open(ctx, opts);
      const items = await store.list(opts.scope);
      if (ctx.globals().json) {
        ctx.printJson(
          items.map((i) => ({ ref: `secret://${i.scope}/${i.name}`, ...i, store: store.name, env: ws.env })),
        );
        return;
      }
      if (items.length === 0) {
        ctx.info(`no secrets in store "${store.name}" (${ws.env})${opts.scope ? ` for scope ${opts.scope}` : ""}`);
        return;
      }
      _table(
        ctx,
        ["NAME", "SCOPE", "STORE", "VERSION", "UPDATED"],
        items.map((i) => [i.name, i.scope, store.name, String(i.version), i.updatedAt ?? i.source ?? ""]),
      );
    });

  secrets
    .command("remove <ref>")
    .alias("rm")
    .description("Delete a secret and its history")
    .option("--store <name>", "store to delete from")
    .addHelpText("after", `\nExample:\n  siteloom secrets remove shop/OLD_TOKEN`)
    .action(async (ref: string, opts: StoreOpt) => {
      const { parseSecretReference } = await import("../../config/index.ts");
      const { ws, store } = await _open(ctx, opts);
      await store.delete(ref);
      const raw = parseSecretReference(ref).raw;
      _done(
        ctx,
        { ref: raw, store: store.name, env: ws.env, removed: true },
        `removed ${raw} from store "${store.name}" (${ws.env})`,
      );
    });

  secrets
    .command("rotate <ref>")
    .description("Replace a secret's value, keeping the previous versions")
    .option("--stdin", "read the new value from standard input")
    .option("--from-file <file>", "read the new value from a file")
    .option("--generate [length]", "generate a random value (default 32 characters)")
    .option("--store <name>", "store to write to")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom secrets rotate shop/FTP_PASSWORD --stdin < new-password.txt\n  siteloom secrets rotate global/API_TOKEN --generate 40`,
    )
    .action(async (ref: string, opts: StoreOpt & { stdin?: boolean; fromFile?: string; generate?: string | true }) => {
      const [{ readSecretValue }, { parseSecretReference }] = await Promise.all([
        import("../../secrets/index.ts"),
        import("../../config/index.ts"),
      ]);
      const parsed = parseSecretReference(ref);
      const { ws, store } = await _open(ctx, opts);
      const value =
        opts.generate !== undefined
          ? _generate(opts.generate === true ? 32 : Number(opts.generate))
          : await readSecretValue({ stdin: opts.stdin, fromFile: opts.fromFile, label: parsed.raw });
      const version = await store.rotate(parsed.raw, value);
      _done(
        ctx,
        { ref: parsed.raw, store: store.name, env: ws.env, version },
        `rotated ${parsed.raw} to version ${version} in store "${store.name}" (${ws.env})`,
      );
    });

  secrets
    .command("history <ref>")
    .description("List the kept versions of a secret (dates and actors, never values)")
    .option("--store <name>", "store to read")
    .addHelpText("after", `\nExample:\n  siteloom secrets history shop/FTP_PASSWORD`)
    .action(async (ref: string, opts: StoreOpt) => {
      const { store } = await _open(ctx, opts);
      const versions = await store.history(ref);
      if (ctx.globals().json) {
        ctx.printJson(versions);
        return;
      }
      const current = versions.at(-1)?.version;
      _table(
        ctx,
        ["VERSION", "CREATED", "ACTOR", "NOTE"],
        versions.map((v) => [
          String(v.version),
          v.createdAt,
          v.actor,
          [v.version === current ? "current" : "", v.rolledBackFrom ? `rollback of ${v.rolledBackFrom}` : ""]
            .filter(Boolean)
            .join(", "),
        ]),
      );
    });

  secrets
    .command("rollback <ref> <version>")
    .description("Restore an old version as the new current version")
    .option("--store <name>", "store to write to")
    .addHelpText("after", `\nExample:\n  siteloom secrets rollback shop/FTP_PASSWORD 3`)
    .action(async (ref: string, version: string, opts: StoreOpt) => {
      const { parseSecretReference } = await import("../../config/index.ts");
      if (!/^[1-9][0-9]*$/.test(version)) usageError(`version must be a positive whole number, got "${version}"`);
      const { ws, store } = await _open(ctx, opts);
      const raw = parseSecretReference(ref).raw;
      const next = await store.rollback(raw, Number(version));
      _done(
        ctx,
        { ref: raw, store: store.name, env: ws.env, version: next, from: Number(version) },
        `restored version ${version} of ${raw} as version ${next}`,
      );
    });

  secrets
    .command("copy")
    .description("Copy secrets between two configured stores (idempotent; never prints values)")
    .requiredOption("--from <store>", "source store")
    .requiredOption("--to <store>", "target store")
    .option("--from-env <env>", "environment of the source (default: --env)")
    .option("--to-env <env>", "environment of the target (default: --env)")
    .option("--scope <scope>", "only this site (or global)")
    .option("--dry-run", "show what would be copied")
    .addHelpText(
      "after",
      `\nExample:\n  siteloom secrets copy --from file --to team --scope shop --dry-run\n  siteloom secrets copy --from file --to file --from-env staging --to-env production --scope shop`,
    )
    .action(
      async (opts: {
        from: string;
        to: string;
        fromEnv?: string;
        toEnv?: string;
        scope?: string;
        dryRun?: boolean;
      }) => {
        const { askHidden, openSecretStore } = await import("../../secrets/index.ts");
        const ws = await ctx.loadWorkspace();
        const from = openSecretStore(ws, { name: opts.from, env: opts.fromEnv ?? ws.env, askPassphrase: askHidden });
        const to = openSecretStore(ws, {
          name: opts.to,
          env: opts.toEnv ?? ws.env,
          askPassphrase: _askNewPassphrase(),
        });
        if (from.name === to.name && from.env === to.env) usageError("--from and --to are the same store");
        if (to.readOnly) {
          throw new SiteloomError(
            "ERR_SECRET_READ_ONLY",
            `store "${to.name}" is read-only; copy into a file (or Vault) store`,
          );
        }
        const report = { copied: [] as string[], updated: [] as string[], unchanged: [] as string[] };
        for (const info of await from.list(opts.scope)) {
          const ref = `secret://${info.scope}/${info.name}`;
          const value = await from.get(ref);
          const existing = await to.find(ref);
          if (existing && existing.reveal() === value.reveal()) report.unchanged.push(ref);
          else {
            if (!opts.dryRun) await to.set(ref, value);
            (existing ? report.updated : report.copied).push(ref);
          }
        }
        if (!opts.dryRun) {
          publishEvent({
            action: "copy",
            ref: `store:${from.name}(${from.env})->${to.name}(${to.env})`,
            store: to.name,
            env: to.env,
            actor: currentActor(),
            outcome: "ok",
          });
        }
        if (ctx.globals().json) {
          ctx.printJson({
            from: `${from.name} (${from.env})`,
            to: `${to.name} (${to.env})`,
            dryRun: Boolean(opts.dryRun),
            ...report,
          });
          return;
        }
        const verb = opts.dryRun ? "would copy" : "copied";
        for (const r of report.copied) ctx.print(`${verb} ${r}`);
        for (const r of report.updated) ctx.print(`${opts.dryRun ? "would update" : "updated"} ${r}`);
        ctx.print(
          `${from.name} (${from.env}) → ${to.name} (${to.env}): ${report.copied.length} ${verb}, ${report.updated.length} ${opts.dryRun ? "would be updated" : "updated"}, ${report.unchanged.length} unchanged`,
        );
      },
    );

  secrets
    .command("export")
    .description("Write what a container needs: an env file, Compose secret files, or a Kubernetes Secret (PLAINTEXT)")
    .requiredOption("--to <format>", "env | compose | k8s")
    .option("--scope <scope>", "only this site (or global)")
    .option("--out <path>", "file to write (a directory for compose); without it a masked preview is printed")
    .option("--store <name>", "store to read")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom secrets export --to env --scope shop --out shop.env --env production\n  siteloom secrets export --to compose --out ./secrets\n  siteloom secrets export --to k8s --out secret.yaml`,
    )
    .action(async (opts: StoreOpt & { to: string; scope?: string; out?: string }) => {
      const { buildExport, writeExport } = await import("../../secrets/index.ts");
      if (!["env", "compose", "k8s"].includes(opts.to))
        usageError(`--to must be env, compose or k8s (got "${opts.to}")`);
      const { ws, store } = await _open(ctx, opts);
      const files = await buildExport(store, { format: opts.to as ExportFormat, scope: opts.scope });
      publishEvent({
        action: "export",
        ref: `store:${store.name}${opts.scope ? `/${opts.scope}` : ""}`,
        store: store.name,
        env: ws.env,
        actor: currentActor(),
        outcome: "ok",
      });
      if (!opts.out) {
        for (const f of files) {
          if (files.length > 1) ctx.print(`# --- ${f.name}`);
          // ctx.print masks every loaded value: this is a preview of the layout only
          for (const line of f.content.replace(/\n$/, "").split("\n")) ctx.print(line);
        }
        ctx.warn("values are masked in this preview; pass --out to write the files (they hold PLAINTEXT secrets)");
        return;
      }
      const written = await writeExport(files, opts.to as ExportFormat, opts.out);
      ctx.warn(
        `${written.join(", ")} hold${written.length === 1 ? "s" : ""} PLAINTEXT secrets (mode 0600): keep out of git, delete after use`,
      );
      if (ctx.globals().json) ctx.printJson({ written, format: opts.to, store: store.name, env: ws.env });
      else for (const w of written) ctx.print(`wrote ${w}`);
    });

  secrets
    .command("migrate")
    .description(
      "Move plaintext credentials of siteloom.yaml / site.yaml (and a .env) into the store, rewriting the YAML",
    )
    .option("--dry-run", "show the masked diff and what would be stored")
    .option("--from-dotenv <file>", "also store the credentials of this .env file (the file is left alone)")
    .option("--store <name>", "store to write to")
    .addHelpText(
      "after",
      `\nExample:\n  siteloom secrets migrate --dry-run\n  siteloom secrets migrate --from-dotenv .env --env production\nOnly the values change in the YAML (comments and formatting stay); a backup goes to .siteloom/backups/ (0600).`,
    )
    .action(async (opts: StoreOpt & { dryRun?: boolean; fromDotenv?: string }) => {
      const { askHidden, openSecretStore, runMigrate } = await import("../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const stores = new Map<string, SecretStore>();
      const result = await runMigrate({
        root: ws.root,
        stateDir: ws.stateDir,
        env: ws.env,
        dryRun: Boolean(opts.dryRun),
        fromDotenv: opts.fromDotenv,
        storeFor: (env) => {
          let s = stores.get(env);
          if (!s) {
            s = openSecretStore(ws, { name: opts.store, env, askPassphrase: askHidden });
            if (s.readOnly) {
              throw new SiteloomError(
                "ERR_SECRET_READ_ONLY",
                `store "${s.name}" is read-only; migrate into a file store (--store file)`,
              );
            }
            stores.set(env, s);
          }
          return s;
        },
      });
      if (ctx.globals().json) {
        ctx.printJson({ dryRun: Boolean(opts.dryRun), ...result });
        return;
      }
      if (result.items.length === 0) {
        ctx.print("no plaintext credentials found; nothing to migrate");
        return;
      }
      for (const line of result.diff) ctx.print(line);
      for (const item of result.items) {
        const verb = opts.dryRun ? (item.action === "reused" ? "would reuse" : "would store") : item.action;
        ctx.print(`${item.where} ${item.key} → ${item.ref} (${verb} in ${item.env})`);
      }
      if (!opts.dryRun) {
        for (const f of result.files) ctx.print(`rewrote ${f.file} (backup ${f.backup})`);
        if (opts.fromDotenv)
          ctx.warn(`${opts.fromDotenv} still holds the plaintext values: delete it once the references work`);
      } else {
        ctx.info("dry run: nothing was stored or written");
      }
    });

  const backendCmd = secrets
    .command("backend")
    .description("Show the configured stores and which one is the default")
    .addHelpText("after", `\nExample:\n  siteloom secrets backend\n  siteloom secrets backend use env`)
    .action(async () => {
      const { defaultStoreName, openSecretStore, storeConfig, storeNames } = await import("../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const current = defaultStoreName(ws);
      const rows = storeNames(ws).map((name) => {
        let where = "";
        try {
          where = openSecretStore(ws, { name }).backend.describe();
        } catch (error) {
          where = (error as Error).message;
        }
        return { name, type: storeConfig(ws, name).type, default: name === current, where: _rel(ws, where) };
      });
      if (ctx.globals().json) {
        ctx.printJson({ env: ws.env, default: current, stores: rows });
        return;
      }
      _table(
        ctx,
        ["", "STORE", "TYPE", "WHERE"],
        rows.map((r) => [r.default ? "*" : "", r.name, r.type, r.where]),
      );
      if (process.env.SITELOOM_SECRETS_BACKEND)
        ctx.info(`(default chosen by SITELOOM_SECRETS_BACKEND=${process.env.SITELOOM_SECRETS_BACKEND})`);
    });
  backendCmd
    .command("use <name>")
    .description("Make a store the default (writes secrets.backend in siteloom.yaml)")
    .addHelpText("after", `\nExample:\n  siteloom secrets backend use env`)
    .action(async (name: string) => {
      const { useSecretStore } = await import("../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const { file } = await useSecretStore(ws, name);
      ctx.print(`default store is now "${name}" (secrets.backend in ${file})`);
    });

  const recipients = secrets
    .command("recipients")
    .description("List the age public keys the file store is encrypted to")
    .option("--store <name>", "file store")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom secrets recipients --env production\n  siteloom secrets recipients add age1... --env production   (a teammate or a CI machine)`,
    )
    .action(async (opts: StoreOpt) => {
      const { store } = await _open(ctx, opts);
      const backend = await _fileBackend(store);
      const list = await backend.recipients();
      if (ctx.globals().json) ctx.printJson(list);
      else for (const r of list) ctx.print(r);
    });
  for (const verb of ["add", "remove"] as const) {
    recipients
      .command(`${verb} <recipients...>`)
      .description(
        verb === "add" ? "Add recipients and re-encrypt the store" : "Remove recipients and re-encrypt the store",
      )
      .option("--store <name>", "file store")
      .addHelpText(
        "after",
        `\nExample:\n  siteloom secrets recipients ${verb} age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq`,
      )
      .action(async (list: string[], opts: StoreOpt) => {
        const { ws, store } = await _open(ctx, { ...recipients.opts<StoreOpt>(), ...opts });
        for (const r of list)
          if (!/^age1[0-9a-z]{20,}$/.test(r)) usageError(`"${r}" is not an age recipient (age1...)`);
        const backend = await _fileBackend(store);
        const now = await backend.updateRecipients(verb === "add" ? list : [], verb === "remove" ? list : []);
        publishEvent({
          action: "recipients",
          ref: `store:${store.name}`,
          store: store.name,
          env: ws.env,
          actor: currentActor(),
          outcome: "ok",
        });
        ctx.print(`${store.name} (${ws.env}) re-encrypted to ${now.length} recipient${now.length === 1 ? "" : "s"}`);
        if (verb === "remove")
          ctx.warn("a removed key may still hold old copies of the store: rotate the secrets it could read");
      });
  }

  secrets
    .command("test [site]")
    .description("Unlock every store; with a site, resolve its credentials and log in to its host")
    .addHelpText("after", `\nExamples:\n  siteloom secrets test\n  siteloom secrets test shop --env production`)
    .action(async (site: string | undefined) => {
      const { askHidden, defaultStoreName, openSecretStore, storeNames } = await import("../../secrets/index.ts");
      const ws = await ctx.loadWorkspace();
      const results: { store: string; ok: boolean; message: string }[] = [];
      const current = defaultStoreName(ws);
      for (const name of storeNames(ws)) {
        try {
          const store = openSecretStore(ws, { name, askPassphrase: askHidden });
          results.push({ store: name, ok: true, message: _rel(ws, await store.test()) });
        } catch (error) {
          results.push({ store: name, ok: false, message: (error as Error).message });
        }
      }
      let login: { site: string; ok: boolean; message: string } | undefined;
      if (site) login = await _testSite(ctx, ws, site);
      if (ctx.globals().json) ctx.printJson({ env: ws.env, stores: results, ...(login ? { login } : {}) });
      else {
        for (const r of results)
          ctx.print(`${r.ok ? "ok  " : "FAIL"} ${r.store}${r.store === current ? " (default)" : ""}: ${r.message}`);
        if (login) ctx.print(`${login.ok ? "ok  " : "FAIL"} ${login.site}: ${login.message}`);
      }
      const defaultFailed = results.some((r) => r.store === current && !r.ok);
      if (defaultFailed || (login && !login.ok)) process.exitCode = 4;
    });
};

// --- internal ---

async function _open(ctx: CliContext, opts: StoreOpt): Promise<{ ws: Workspace; store: SecretStore }> {
  const ws = await ctx.loadWorkspace();
  const { askHidden, openSecretStore } = await import("../../secrets/index.ts");
  return { ws, store: openSecretStore(ws, { name: opts.store, askPassphrase: askHidden }) };
}

async function _fileBackend(store: SecretStore) {
  const { isFileBackend } = await import("../../secrets/index.ts");
  const backend = store.backend;
  if (!isFileBackend(backend)) {
    throw new SiteloomError(
      "ERR_USAGE",
      `store "${store.name}" is a ${backend.type} store; recipients belong to file stores`,
    );
  }
  return backend;
}

function _askNewPassphrase(): (question: string) => Promise<string> {
  return async (question) => {
    const { askHidden } = await import("../../secrets/index.ts");
    const first = await askHidden(question);
    const again = await askHidden("Again, to confirm: ");
    if (first !== again) throw new SiteloomError("ERR_USAGE", "the passphrases differ");
    if (first.length < 10) throw new SiteloomError("ERR_USAGE", "use a passphrase of at least 10 characters");
    return first;
  };
}

function _done(ctx: CliContext, json: Record<string, unknown>, line: string): void {
  if (ctx.globals().json) ctx.printJson(json);
  else ctx.print(line);
}

function _table(ctx: CliContext, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  ctx.print(ctx.color.bold(fmt(header)));
  for (const row of rows) ctx.print(fmt(row));
}

function _generate(length: number): string {
  if (!Number.isInteger(length) || length < 12 || length > 256) usageError("--generate takes a length from 12 to 256");
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789_-";
  const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
  let out = "";
  for (const b of bytes) {
    if (b < 256 - (256 % alphabet.length)) out += alphabet[b % alphabet.length];
    if (out.length === length) break;
  }
  return out;
}

function _rel(ws: Workspace, text: string): string {
  return text.split(`${ws.root}/`).join("");
}

async function _testSite(
  ctx: CliContext,
  ws: Workspace,
  name: string,
): Promise<{ site: string; ok: boolean; message: string }> {
  const site = await ws.site(name);
  const remote = site.config.remote;
  try {
    const { createRemote } = await import("../../transfer/index.ts");
    const fs = await createRemote(remote, (value, field) => ws.resolve(value, { field, site: name }), {
      warn: (m) => ctx.warn(m),
    });
    try {
      await fs.list("");
    } finally {
      await fs.close();
    }
    const who = remote.user ? `${remote.user}@` : "";
    return {
      site: name,
      ok: true,
      message: `logged in to ${remote.protocol}://${who}${remote.host ?? "(local)"} and listed ${remote.root}`,
    };
  } catch (error) {
    return { site: name, ok: false, message: (error as Error).message };
  }
}
