import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { loadPg } from "./pg-module.ts";

export interface ListenOptions {
  /** PostgreSQL URL (may hold a password; never printed). */
  url: string;
  /** Channels to LISTEN on (plain identifiers). */
  channels: readonly string[];
  /** Called for every notification on one of the channels. */
  onNotify(channel: string, payload: string): void;
  /**
   * Called each time the LISTEN is in place, the first time and after every reconnect: notifications sent while the
   * connection was away are lost, so a caller re-reads what it follows here.
   */
  onListening?: () => void;
  /** `application_name` of the connection (shown in pg_stat_activity). @default "siteloom-listen" */
  applicationName?: string;
  /** Pause before connecting again after the connection was lost or refused. @default 1000 */
  retryMs?: number;
}

/** A LISTEN connection kept open until closed. */
export interface PgListener {
  /** Resolves once the first LISTEN is in place (or the listener is closed). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * The one PostgreSQL `LISTEN` loop: one dedicated connection LISTENing on `channels`, reconnected after the server
 * restarts or the network drops (every `retryMs`, for as long as it is open). NOTIFY is fire-and-forget, so users
 * re-read their state in `onListening`; notifications are wake-ups, never the only source of truth.
 */
export function listenPg(options: ListenOptions): PgListener {
  const retryMs = options.retryMs ?? 1000;
  let closed = false;
  let current: pg.Client | undefined;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const wanted = new Set(options.channels);
  const loop = async (): Promise<void> => {
    while (!closed) {
      const client = new (await loadPg()).Client({
        connectionString: options.url,
        application_name: options.applicationName ?? "siteloom-listen",
      });
      try {
        client.on("notification", (message) => {
          if (wanted.has(message.channel)) options.onNotify(message.channel, message.payload ?? "");
        });
        const lost = new Promise<void>((resolve) => {
          client.on("error", () => resolve());
          client.on("end", () => resolve());
        });
        await client.connect();
        for (const channel of wanted) await client.query(`LISTEN ${channel}`);
        current = client;
        if (!closed) {
          markReady();
          options.onListening?.();
          await lost;
        }
      } catch {
        // the database is away (restart, failover): try again shortly
      }
      current = undefined;
      await client.end().catch(() => undefined);
      if (!closed) await sleep(retryMs);
    }
  };
  void loop();
  return {
    ready,
    async close() {
      closed = true;
      markReady();
      await current?.end().catch(() => undefined);
    },
  };
}
