import { readFile } from "node:fs/promises";

/**
 * The CA certificates of a channel's `caFile`, read once per channel configuration: the configuration objects are
 * replaced on every reload, so a changed `caFile` (or a reload after the file was replaced) is read again, while
 * retries and later rounds of the same configuration reuse what was read.
 */
const CA_BY_CONFIG = new WeakMap<object, Promise<string>>();

/** The PEM text of `config.caFile`, or undefined without one. A failed read is not kept (the next send tries again). */
export function channelCa(config: { caFile?: string | undefined }): Promise<string> | undefined {
  if (!config.caFile) return undefined;
  let ca = CA_BY_CONFIG.get(config);
  if (!ca) {
    ca = readFile(config.caFile, "utf8");
    CA_BY_CONFIG.set(config, ca);
    ca.catch(() => CA_BY_CONFIG.delete(config));
  }
  return ca;
}
