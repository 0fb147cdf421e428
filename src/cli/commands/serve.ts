import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { SiteloomError } from "../../errors.ts";
import type { PipelineEvent } from "../../pipeline/index.ts";
import { type RegisterCommands, usageError } from "../context.ts";

interface ServeOptions {
  host?: string;
  port?: string;
  watch?: boolean;
  metricsPort?: string;
}

/** siteloom serve: the runtime configuration API. */
export const registerServeCommands: RegisterCommands = (program, ctx) => {
  program
    .command("serve")
    .description("Run the runtime configuration API (config, versions, secrets, audit, runs) over HTTP")
    .option("--host <address>", "address to bind (default: server.host, 127.0.0.1)")
    .option("--port <n>", "port (default: server.port, 8088; 0 picks a free one)")
    .option("--no-watch", "do not reload when siteloom.yaml or a site.yaml is edited")
    .option(
      "--metrics-port <n>",
      "also serve GET /metrics without a token on this loopback port (default: metrics.port)",
    )
    .addHelpText(
      "after",
      `\nExamples:\n  siteloom tokens create --name ops --role admin\n  siteloom serve --port 8088\n  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8088/config?site=shop\n\nStops cleanly on Ctrl-C (SIGINT) or SIGTERM. HTTPS when server.tls (cert, key) is set. See docs/server.md.`,
    )
    .action(async (opts: ServeOptions) => {
      const g = ctx.globals();
      // the server starts its own alerts (config in force, reloads); the CLI's would queue every alert twice
      const ws = await ctx.loadWorkspace({ alerts: false });
      const port = opts.port === undefined ? ws.config.server.port : _port(opts.port);
      const host = opts.host ?? ws.config.server.host;
      const tls = ws.config.server.tls;
      const https = tls
        ? {
            cert: await _readPem(resolve(ws.root, tls.cert), "server.tls.cert"),
            key: await _readPem(resolve(ws.root, tls.key), "server.tls.key"),
          }
        : undefined;
      const [{ createLogger }, { buildServer }, { openWorkspaceStore }] = await Promise.all([
        import("../../log/index.ts"),
        import("../../server/index.ts"),
        import("../../workspace/index.ts"),
      ]);
      const logger = createLogger({ level: g.debug ? "debug" : g.quiet ? "error" : "info" });
      const store = openWorkspaceStore(ws);
      // with a queue database, POST /runs enqueues for the workers instead of running in this process
      const { createQueueRunStarter, openWorkspaceQueue, resolveQueueUrl, tailRunEvents } = await import(
        "../../queue/index.ts"
      );
      const opened = (await resolveQueueUrl(ws))
        ? await openWorkspaceQueue(ws, {
            logger,
            waitSeconds: ws.config.queue.startWaitSeconds,
            onWait: (line) => ctx.warn(`siteloom serve: ${line}`),
          })
        : undefined;
      const queue = opened?.client;
      const app = await buildServer({
        root: ws.root,
        stateDir: ws.stateDir,
        store,
        logger,
        ...(queue && opened
          ? {
              runs: createQueueRunStarter(queue),
              // the console shows the workers' runs live from the events they store
              runEventSource: (emit: (event: PipelineEvent) => void) =>
                tailRunEvents({ url: opened.url, onEvent: emit }),
            }
          : {}),
        watch: opts.watch !== false,
        ...(https ? { https } : {}),
      });
      const metricsPort = opts.metricsPort === undefined ? ws.config.metrics.port : _port(opts.metricsPort);
      let metricsServer: { url: string; close(): Promise<void> } | undefined;
      const closeAll = async () => {
        await metricsServer?.close();
        await app.close();
        await queue?.close();
        await store.close();
      };
      try {
        await app.listen({ host, port });
      } catch (error) {
        await closeAll();
        const code = (error as NodeJS.ErrnoException).code;
        throw new SiteloomError(
          "ERR_USAGE",
          code === "EADDRINUSE"
            ? `port ${port} on ${host} is in use; pick another with --port`
            : `cannot listen on ${host}:${port}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      if (metricsPort !== undefined && ws.config.metrics.enabled) {
        const { startMetricsServer } = await import("../../metrics/index.ts");
        metricsServer = await startMetricsServer({
          metrics: app.metrics,
          port: metricsPort,
          host: ws.config.metrics.host,
        }).catch(async (error: NodeJS.ErrnoException) => {
          await closeAll();
          throw new SiteloomError(
            "ERR_USAGE",
            `cannot serve metrics on port ${metricsPort}: ${error.code ?? error.message}`,
          );
        });
      }
      const address = app.server.address();
      const actualPort = typeof address === "object" && address ? address.port : port;
      const url = `${https ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;
      const tokens = await store.listTokens();
      // one line: a supervisor reads the first line of stdout as the JSON document
      const metricsUrl = metricsServer?.url;
      if (g.json)
        process.stdout.write(
          `${JSON.stringify({ url, configVersion: app.configRuntime.current().version, ...(metricsUrl ? { metricsUrl } : {}) })}\n`,
        );
      else {
        ctx.info(`siteloom serve: listening on ${url} (configuration version ${app.configRuntime.current().version})`);
        if (metricsUrl) ctx.info(`siteloom serve: metrics on ${metricsUrl}`);
      }
      if (!tokens.some((t) => !t.revoked)) {
        ctx.warn("no API tokens yet: every request but /health will get 401; create one with siteloom tokens create");
      }
      if (host !== "127.0.0.1" && host !== "::1" && host !== "localhost" && !https) {
        ctx.warn(`listening on ${host} without TLS: put a TLS proxy in front or set server.tls`);
      }
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) return;
          stopping = true;
          ctx.info(`siteloom serve: ${signal}, finishing open requests and stopping`);
          void closeAll().finally(done);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      ctx.info("siteloom serve: stopped");
    });
};

// --- internal ---

function _port(text: string): number {
  const n = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || n > 65535) usageError(`invalid --port "${text}": use a number from 0 to 65535`);
  return n;
}

async function _readPem(file: string, key: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new SiteloomError("ERR_CONFIG_INVALID", `${key}: cannot read ${file}; check the path in siteloom.yaml`, {
      cause: error,
    });
  }
}
