import { SiteloomError } from "../errors.ts";

/** Letters and digits without look-alikes (0/O, 1/l/I), plus `_` and `-`: safe in URLs, YAML and shells. */
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789_-";

/** A random value of `length` characters (12 to 256) for `secrets rotate --generate`, without modulo bias. */
export function generateSecretValue(length: number): string {
  if (!Number.isInteger(length) || length < 12 || length > 256) {
    throw new SiteloomError("ERR_USAGE", "--generate takes a length from 12 to 256");
  }
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < 256 - (256 % ALPHABET.length)) out += ALPHABET[b % ALPHABET.length];
      if (out.length === length) break;
    }
  }
  return out;
}
