import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Limits for a loaded machine (CI builds a container image beside the Node 20 run; here several suites share 2
    // cores): a spawned CLI or a server start that takes 5x its quiet time is slow, not broken. A hang still fails.
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // Real servers and spawned CLIs: keep parallelism modest on a 2-core machine.
    pool: "forks",
    maxWorkers: 2,
    globalSetup: ["test/support/global-setup.ts"],
    // ftp-srv (the hostile server of the attack tests) leaves a promise rejected when a client drops a data
    // connection it is still writing to, which is what a client refusing an oversized download must do. Only that
    // error, from that file, is expected; every other unhandled error still fails the run.
    onUnhandledError(error) {
      const stack = "stack" in error ? String(error.stack ?? "") : "";
      const code = (error as { code?: unknown }).code;
      // ECONNRESET or EPIPE, depending on whether the reset comes before or during ftp-srv's next write
      return !(
        (code === "ECONNRESET" || code === "EPIPE") &&
        /ftp-srv[\\/]src[\\/]commands[\\/]registration[\\/]retr\.js/.test(stack)
      );
    },
  },
});
