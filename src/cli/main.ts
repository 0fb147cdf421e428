#!/usr/bin/env node
import { enableCompileCache } from "./compile-cache.ts";

// before the rest of the CLI is loaded, so that its modules come from the compile cache (Node 22.1+)
enableCompileCache();
const { runMain } = await import("./program.ts");
process.exitCode = await runMain(process.argv);
