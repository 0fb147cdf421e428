import type { RegisterCommands } from "../context.ts";
import { registerAlertsCommands } from "./alerts.ts";
import { registerArticlesCommands } from "./articles/index.ts";
import { registerAuditCommands } from "./audit.ts";
import { registerConfigCommands } from "./config.ts";
import { registerDoctorCommands } from "./doctor.ts";
import { registerEnrichCommands } from "./enrich.ts";
import { registerGenerateCommands } from "./generate.ts";
import { registerPublishCommands } from "./publish.ts";
import { registerQueueCommands } from "./queue.ts";
import { registerRunCommands } from "./run.ts";
import { registerSecretsCommands } from "./secrets/index.ts";
import { registerServeCommands } from "./serve.ts";
import { registerTokensCommands } from "./tokens.ts";
import { registerTransferCommands } from "./transfer.ts";
import { registerWorkspaceCommands } from "./workspace.ts";

/** Every command group, in the order `--help` lists them. */
export const COMMANDS: RegisterCommands[] = [
  registerWorkspaceCommands,
  registerConfigCommands,
  registerSecretsCommands,
  registerAuditCommands,
  registerAlertsCommands,
  registerServeCommands,
  registerTokensCommands,
  registerTransferCommands,
  registerGenerateCommands,
  registerArticlesCommands,
  registerEnrichCommands,
  registerPublishCommands,
  registerRunCommands,
  registerQueueCommands,
  registerDoctorCommands,
];
