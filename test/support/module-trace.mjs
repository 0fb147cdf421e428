// Loaded with `node --import` (through NODE_OPTIONS): appends the URL of every module the process loads to the file
// named by SITELOOM_TEST_MODULE_TRACE, so a test can check what a command imported.
import { register } from "node:module";

const hooks = `
import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  if (process.env.SITELOOM_TEST_MODULE_TRACE) appendFileSync(process.env.SITELOOM_TEST_MODULE_TRACE, url + "\\n");
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
