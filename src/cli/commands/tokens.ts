import { currentActor, publishEvent } from "../../events.ts";
import { ROLES, type Role } from "../../tokens/index.ts";
import { type RegisterCommands, usageError } from "../context.ts";

interface CreateOptions {
  name: string;
  role: string;
  env?: string;
  expires?: string;
}

/** siteloom tokens create | list | revoke: API tokens of `siteloom serve`. */
export const registerTokensCommands: RegisterCommands = (program, ctx) => {
  const tokens = program
    .command("tokens")
    .description("API tokens for siteloom serve (only a hash is stored; the token is shown once)")
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom tokens create --name ci --role editor --env staging --expires 30d\n  siteloom tokens list\n  siteloom tokens revoke ci`,
    );

  tokens
    .command("create")
    .description("Create a token and print it once")
    .requiredOption("--name <name>", "token name (the actor in audit entries)")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .option("--env <list>", "comma-separated environments the token may use (default: all)")
    .option("--expires <duration>", "lifetime: 30d, 12h, 90m, 2w (default: no expiry)")
    .addHelpText(
      "after",
      `\nRoles: viewer reads masked config, runs and its own audit entries; editor also patches config and starts runs\nin its environments; admin also manages secrets, tokens and rollbacks in every environment.\n\nExample:\n  siteloom tokens create --name deploy-bot --role editor --env staging,production --expires 90d`,
    )
    .action(async (opts: CreateOptions) => {
      const [{ createToken }, { openWorkspaceStore }] = await Promise.all([
        import("../../tokens/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      if (!ROLES.includes(opts.role as Role)) usageError(`invalid --role "${opts.role}": use ${ROLES.join(", ")}`);
      // the root program's --env takes the flag whichever side of "create" it is written; here it means the list
      const envList = opts.env ?? ctx.globals().env;
      const ws = await ctx.loadWorkspace({ env: undefined });
      const envs = envList
        ? envList
            .split(",")
            .map((e) => e.trim())
            .filter(Boolean)
        : [];
      const known = ws.config.profiles;
      for (const env of envs) {
        if (!known.includes(env)) usageError(`unknown environment "${env}" in --env; known: ${known.join(", ")}`);
      }
      const store = openWorkspaceStore(ws);
      try {
        const { token, record } = await createToken(store, {
          name: opts.name,
          role: opts.role as Role,
          envs,
          expires: opts.expires,
        });
        _audit("tokens.create", record.name);
        if (ctx.globals().json) {
          // the one place a token is written out: printed raw, on purpose, exactly once
          process.stdout.write(`${JSON.stringify({ ...record, token }, null, 2)}\n`);
          return;
        }
        process.stdout.write(`${token}\n`);
        ctx.info(
          `token "${record.name}" (${record.role}, ${envs.length ? envs.join(", ") : "all environments"}${record.expires ? `, expires ${record.expires}` : ""}) created; it is shown only this once`,
        );
      } finally {
        await store.close();
      }
    });

  tokens
    .command("list")
    .description("List tokens (never the token or its hash)")
    .addHelpText("after", `\nExample:\n  siteloom tokens list --json`)
    .action(async () => {
      const ws = await ctx.loadWorkspace();
      const [{ listTokens }, { openWorkspaceStore }] = await Promise.all([
        import("../../tokens/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      const store = openWorkspaceStore(ws);
      try {
        const list = await listTokens(store);
        _audit("tokens.list", "*");
        if (ctx.globals().json) return ctx.printJson(list);
        if (list.length === 0) return ctx.info("no tokens; create one with siteloom tokens create");
        const now = Date.now();
        for (const t of list) {
          const state = t.revoked
            ? `revoked ${t.revoked}`
            : t.expires && Date.parse(t.expires) <= now
              ? `expired ${t.expires}`
              : t.expires
                ? `active, expires ${t.expires}`
                : "active";
          ctx.print(
            `${t.name.padEnd(20)} ${t.role.padEnd(7)} ${t.envs.join(",").padEnd(24)} ${state}  last used ${t.lastUsed ?? "never"}`,
          );
        }
      } finally {
        await store.close();
      }
    });

  tokens
    .command("revoke")
    .description("Revoke a token; requests with it get 401 from then on")
    .argument("<name>", "token name")
    .addHelpText("after", `\nExample:\n  siteloom tokens revoke ci`)
    .action(async (name: string) => {
      const ws = await ctx.loadWorkspace();
      const [{ revokeToken }, { openWorkspaceStore }] = await Promise.all([
        import("../../tokens/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      const store = openWorkspaceStore(ws);
      try {
        const record = await revokeToken(store, name);
        _audit("tokens.revoke", name);
        if (ctx.globals().json) return ctx.printJson(record);
        ctx.print(`token "${name}" revoked`);
      } finally {
        await store.close();
      }
    });
};

// --- internal ---

function _audit(action: "tokens.create" | "tokens.list" | "tokens.revoke", key: string): void {
  publishEvent({ action, ref: key, env: "", actor: currentActor(), outcome: "ok", source: "cli" });
}
