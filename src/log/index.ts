import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { redact } from "../secret.ts";

export type { Logger } from "pino";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface CreateLoggerOptions {
  /** Minimum level written. @default "info" */
  level?: LogLevel;
  /** Where lines go. @default stderr */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Extra bindings on every line, e.g. `{ site: "shop" }`. */
  bindings?: Record<string, unknown>;
}

/**
 * A pino logger whose every output line passes through the secret redaction: any value registered by a `Secret`
 * (and credentials inside URLs) is masked wherever it appears, whatever field it ended up in.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const redacting: DestinationStream = {
    write(line: string) {
      (destination as DestinationStream).write(redact(line));
    },
  };
  const pinoOptions: LoggerOptions = {
    level: options.level ?? "info",
    base: options.bindings ?? {},
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(pinoOptions, redacting);
}

/** A logger that writes nothing; the default for library calls that are not given one. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
