// Runs the local LLM wire-format server in its own process (benchmarks: the "provider" should not share the
// client's CPU). Prints the base URL as one line; stops when stdin closes.
import { startLlmServer } from "./llm-server.ts";

const latencyMs = Number(process.argv[2] ?? 0);
const server = await startLlmServer({ latencyMs });
process.stdout.write(`${server.url}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void server.close().then(() => process.exit(0));
});
