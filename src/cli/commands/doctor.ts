import { lookup } from "node:dns/promises";
import { type ErrorCode, SiteloomError } from "../../errors.ts";
import { redact } from "../../secret.ts";
import type { Workspace } from "../../workspace/index.ts";
import type { CliContext, RegisterCommands } from "../context.ts";

/** One line of `siteloom doctor`. */
export interface DoctorCheck {
  check: "config" | "secrets" | "database" | "queue" | "remote";
  status: "ok" | "skip" | "warn" | "fail";
  message: string;
}

/** siteloom doctor: what this process would find at start, one line per check; stops at the first hard failure. */
export const registerDoctorCommands: RegisterCommands = (program, ctx) => {
  program
    .command("doctor")
    .description(
      "check config, secret store, database, queue and remote hosts, one line each (in or out of a container)",
    )
    .addHelpText(
      "after",
      `
Checks, in order: the configuration is valid (every site, this environment); the state store is reachable and
migrated; the default secret store opens and holds what the references name; the job queue is ready (when one is configured); each site's remote
host resolves. Exits non-zero at the first hard failure, with the exit code of its kind (docs/deploy.md).

Examples:
  $ siteloom doctor
  $ siteloom doctor --env production --json`,
    )
    .action(async () => {
      const checks: DoctorCheck[] = [];
      const json = ctx.globals().json === true;
      const report = (c: DoctorCheck) => {
        checks.push(c);
        if (!json) ctx.print(`${LABEL[c.status]} ${c.check}: ${c.message}`);
      };
      try {
        const ws = await _checkConfig(ctx, report);
        // the database before the secrets: with a PostgreSQL store the audit log of every secret access lives there
        await _checkDatabase(ws, report);
        await _checkSecrets(ws, report);
        await _checkQueue(ws, report);
        await _checkRemotes(ws, report);
      } finally {
        if (json) ctx.printJson({ ok: checks.every((c) => c.status !== "fail"), checks });
      }
    });
};

// --- internal ---

const LABEL: Record<DoctorCheck["status"], string> = { ok: "ok  ", skip: "skip", warn: "warn", fail: "FAIL" };

/** How long the database may refuse connections before it counts as unreachable (serve and worker wait 30 s). */
const RECONNECT_MS = 3_000;

/** How long a remote host's name may take to resolve before it counts as not resolving. */
const LOOKUP_TIMEOUT_MS = 5_000;

type Report = (check: DoctorCheck) => void;

/** Reports the failure, then ends the command with an error of that kind (cli/main.ts turns it into the exit code). */
function _fail(report: Report, check: DoctorCheck["check"], code: ErrorCode, message: string, cause?: unknown): never {
  report({ check, status: "fail", message });
  throw new SiteloomError(code, `doctor: ${check}: ${message}`, { cause });
}

async function _checkConfig(ctx: CliContext, report: Report): Promise<Workspace> {
  const { validateWorkspace } = await import("../../workspace/index.ts");
  const { formatProblem } = await import("../../config/index.ts");
  const g = ctx.globals();
  let problems: string[];
  try {
    problems = (await validateWorkspace({ workspace: g.workspace, env: g.env })).problems.map(formatProblem);
  } catch (error) {
    const code = error instanceof SiteloomError ? error.code : "ERR_CONFIG_INVALID";
    _fail(report, "config", code, (error as Error).message, error);
  }
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: siteloom config validate)` : "";
    _fail(report, "config", "ERR_CONFIG_INVALID", `${problems[0]}${more}`);
  }
  const ws = await ctx.loadWorkspace({ alerts: false });
  const sites = ws.sites.length;
  report({
    check: "config",
    status: "ok",
    message: `${ws.root}, environment ${ws.env}, ${sites} site${sites === 1 ? "" : "s"}`,
  });
  return ws;
}

async function _checkSecrets(ws: Workspace, report: Report): Promise<void> {
  const { askHidden, collectSpecVariables, openSecretStore, testSecretStores } = await import("../../secrets/index.ts");
  const sources = [{ config: ws.config }];
  for (const name of ws.sites) sources.push({ config: (await ws.site(name)).config });
  const refs = collectSpecVariables(sources).variables.flatMap((v) => v.refs);
  const needed = refs.filter((r) => r.startsWith("secret://")).length;
  const options = process.stdin.isTTY ? { askPassphrase: askHidden } : {};
  const checks = await testSecretStores(ws, options);
  for (const c of checks) {
    const message = `store ${c.store}${c.default ? " (default)" : ""}: ${c.message.split(`${ws.root}/`).join("")}`;
    if (c.ok) report({ check: "secrets", status: "ok", message });
    // a store nothing refers to may be missing: a workspace without secret:// references needs none
    else if (c.default && needed > 0) {
      _fail(
        report,
        "secrets",
        "ERR_SECRET_BACKEND",
        `${message} (${needed} secret:// reference${needed === 1 ? "" : "s"} need it)`,
      );
    } else report({ check: "secrets", status: "warn", message });
  }
  const current = checks.find((c) => c.default);
  if (!current?.ok || needed === 0) return;
  // names only (list), never values: a reference the store does not hold fails when a run uses it, not at start
  const store = await openSecretStore(ws, options);
  const held = new Set((await store.list()).map((i) => `secret://${i.scope}/${i.name}`));
  const wanted = new Set(refs.filter((r) => r.startsWith("secret://")).map((r) => r.replace(/\?.*$/, "")));
  const missing = [...wanted].filter((r) => !held.has(r)).sort();
  report(
    missing.length > 0
      ? {
          check: "secrets",
          status: "warn",
          message: `store ${current.store} does not hold ${missing.join(", ")}: siteloom secrets set <scope>/<NAME> --env ${ws.env}`,
        }
      : {
          check: "secrets",
          status: "ok",
          message: `store ${current.store} holds all ${wanted.size} secret:// references`,
        },
  );
}

async function _checkDatabase(ws: Workspace, report: Report): Promise<void> {
  const [{ openWorkspaceStore }, { LATEST_SCHEMA_VERSION, redactUrl }] = await Promise.all([
    import("../../workspace/index.ts"),
    import("../../store/index.ts"),
  ]);
  const where = process.env.SITELOOM_STORE
    ? redactUrl(process.env.SITELOOM_STORE)
    : ws.config.store.url === undefined
      ? `SQLite ${ws.stateDir}/state.db`
      : `PostgreSQL from store.url (${ws.config.store.url})`;
  // opened as serve and worker open it: a database behind this release is migrated here, as it would be at start
  const store = openWorkspaceStore(ws, { reconnectMs: RECONNECT_MS });
  let version: number;
  try {
    version = await store.schemaVersion();
  } catch (error) {
    // a store.url reference that the secret store cannot resolve fails here, with the secrets' exit code
    const code = error instanceof SiteloomError ? error.code : "ERR_STORE";
    _fail(report, "database", code, `${where}: ${redact((error as Error).message)}`, error);
  } finally {
    await store.close().catch(() => undefined);
  }
  if (version > LATEST_SCHEMA_VERSION) {
    _fail(
      report,
      "database",
      "ERR_STORE",
      `${where}: schema version ${version} is newer than this siteloom knows (${LATEST_SCHEMA_VERSION}); run the release that migrated it`,
    );
  }
  report({ check: "database", status: "ok", message: `${where}: reachable, schema version ${version} (migrated)` });
}

async function _checkQueue(ws: Workspace, report: Report): Promise<void> {
  const [{ openQueue, resolveQueueUrl }, { redactUrl }] = await Promise.all([
    import("../../queue/index.ts"),
    import("../../secret.ts"),
  ]);
  let url: string | undefined;
  try {
    url = await resolveQueueUrl(ws);
  } catch (error) {
    _fail(report, "queue", "ERR_STORE", (error as Error).message, error);
  }
  if (url === undefined) {
    report({ check: "queue", status: "skip", message: "none configured: runs go in-process (siteloom run)" });
    return;
  }
  const name = ws.config.queue.name;
  let client: Awaited<ReturnType<typeof openQueue>>;
  try {
    client = await openQueue({ url, config: ws.config.queue, role: "client" });
  } catch (error) {
    _fail(report, "queue", "ERR_STORE", (error as Error).message, error);
  }
  try {
    const exists = (await client.boss.getQueue(name)) !== null;
    report({
      check: "queue",
      status: "ok",
      message: `${redactUrl(url)}: ${exists ? `queue ${name} ready` : `ready; queue ${name} is created by the first worker or enqueue`}`,
    });
  } finally {
    await client.close();
  }
}

async function _checkRemotes(ws: Workspace, report: Report): Promise<void> {
  if (ws.sites.length === 0) {
    report({ check: "remote", status: "skip", message: "no sites" });
    return;
  }
  for (const name of ws.sites) {
    const remote = (await ws.site(name)).config.remote;
    if (remote.protocol === "local" || !remote.host) {
      report({ check: "remote", status: "skip", message: `${name}: ${remote.protocol} has no host to resolve` });
      continue;
    }
    const host = remote.host;
    let timer: NodeJS.Timeout | undefined;
    try {
      const found = await Promise.race([
        lookup(host, { all: true }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(Object.assign(new Error("timed out"), { code: "ETIMEOUT" })),
            LOOKUP_TIMEOUT_MS,
          );
        }),
      ]);
      const addresses = found.map((a) => a.address).join(", ");
      report({
        check: "remote",
        status: "ok",
        message: `${name}: ${remote.protocol}://${host} resolves to ${addresses}`,
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "error";
      _fail(
        report,
        "remote",
        "ERR_TRANSFER_CONNECT",
        `${name}: ${host} does not resolve (${code}); check remote.host of sites/${name}/site.yaml and this machine's DNS`,
        error,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
