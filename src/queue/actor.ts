import { hostname, userInfo } from "node:os";

/** Who enqueues from this process: `user@host` (never a credential). */
export function actorName(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `pid${process.pid}@${hostname()}`;
  }
}
