import type { PipelineStep } from "../types.ts";

export type { GenerateStepOptions } from "./content.ts";
export type { PublishStepOptions } from "./publish.ts";
export type { DeployStepOptions } from "./transfer.ts";

import { enrichStep, generateStep } from "./content.ts";
import { publishStep } from "./publish.ts";
import { deployStep, exportStep } from "./transfer.ts";

/**
 * The built-in steps, in pipeline order. Each wraps one domain's entry point (transfer, content, enrich) and
 * translates its options and results; wiring a new step is one file here and one entry in this list.
 */
export const BUILTIN_STEPS: PipelineStep[] = [exportStep, generateStep, enrichStep, deployStep, publishStep];

/** Names of the built-in steps, in order. */
export const STEP_NAMES = BUILTIN_STEPS.map((step) => step.name);
