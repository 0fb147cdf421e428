import { createWriteStream } from "node:fs";
import { Writable } from "node:stream";
import { SiteloomError } from "../errors.ts";
import { printablePath } from "./paths.ts";

/**
 * A local file to download into that refuses to grow past `maxBytes`: the write that crosses it fails with
 * ERR_TRANSFER_LIMIT, which stops the transfer while it streams (a server announcing 10 bytes and sending gigabytes
 * fills neither the disk nor memory). Without `maxBytes`, a plain file stream.
 */
export function createCappedFileStream(localFile: string, maxBytes: number | undefined, path: string): Writable {
  const file = createWriteStream(localFile);
  if (maxBytes === undefined) return file;
  let written = 0;
  const capped = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      if (written > maxBytes) {
        callback(tooLargeError(path, maxBytes));
        return;
      }
      if (file.write(chunk)) callback();
      else file.once("drain", () => callback());
    },
    final(callback) {
      file.end(() => callback());
    },
    destroy(error, callback) {
      if (file.closed) callback(error);
      else {
        file.once("close", () => callback(error));
        file.destroy();
      }
    },
  });
  file.on("error", (error) => capped.destroy(error));
  return capped;
}

/** The error of a download that sent more than it announced (or more than a configured limit). */
export function tooLargeError(path: string, maxBytes: number): SiteloomError {
  return new SiteloomError(
    "ERR_TRANSFER_LIMIT",
    `"${printablePath(path)}": the server sent more than ${maxBytes} bytes, more than announced; download stopped`,
  );
}
