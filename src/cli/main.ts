#!/usr/bin/env node
import { runMain } from "./program.ts";

process.exitCode = await runMain(process.argv);
