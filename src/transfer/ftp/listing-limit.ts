// The refusal of a listing larger than its limit, the same words wherever it is read (data connection, STAT).
import { SiteloomError } from "../../errors.ts";

/** `what`: the listing as the message names it, e.g. `the listing of "dir"`. */
export function listingTooLarge(label: string, what: string, maxBytes: number): SiteloomError {
  return new SiteloomError("ERR_TRANSFER_LIMIT", `${label}: ${what} is larger than ${maxBytes} bytes: not read`);
}
