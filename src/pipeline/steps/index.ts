import { SiteloomError } from "../../errors.ts";
import { defineStep, type PipelineStep } from "../types.ts";

/**
 * The built-in steps, in pipeline order. Each wraps one domain's entry point (transfer, content, enrich) and
 * translates its options and results; wiring a new step is one file here and one entry in this list.
 */
export const BUILTIN_STEPS: PipelineStep[] = [
  _pending("export", "mirror the live site down into sites/<name>/export/"),
  _pending("generate", "write one article per new topic of topics.csv into sites/<name>/articles/"),
  _pending("enrich", "build sites/<name>/output/: the site plus blog pages, sitemap, robots and feeds"),
  _pending("deploy", "upload what changed in output/ to the host, atomically"),
];

/** Names of the built-in steps, in order. */
export const STEP_NAMES = BUILTIN_STEPS.map((step) => step.name);

// --- internal ---

function _pending(name: string, description: string): PipelineStep {
  return defineStep({
    name,
    description,
    async run() {
      throw new SiteloomError("ERR_NOT_IMPLEMENTED", `the ${name} step is not available in this build yet`);
    },
  });
}
