import type { RegisterCommands } from "../../context.ts";
import { registerBackendCommands } from "./backend.ts";
import { registerCopyCommand } from "./copy.ts";
import { registerExportCommand } from "./export.ts";
import { registerInitCommand } from "./init.ts";
import { registerListCommands } from "./list.ts";
import { registerMigrateCommand } from "./migrate.ts";
import { registerRecipientsCommands } from "./recipients.ts";
import { registerTestCommand } from "./test.ts";
import { registerValueCommands } from "./values.ts";

/**
 * secrets ... (credential manager). One file per command group; each loads the secrets domain with `import()` in its
 * actions, where the logic lives (src/secrets/), so the API can use the same operations.
 */
export const registerSecretsCommands: RegisterCommands = (program, ctx) => {
  const secrets = program
    .command("secrets")
    .description("Manage credentials: an age-encrypted store per environment, env/Docker/Kubernetes secrets, audit")
    .addHelpText(
      "after",
      `
Examples:
  siteloom secrets init --env production
  printf %s "$PASSWORD" | siteloom secrets set shop/FTP_PASSWORD --stdin --env production
  siteloom secrets list --scope shop
  siteloom secrets migrate --dry-run
References in siteloom.yaml / site.yaml: password: secret://shop/FTP_PASSWORD`,
    );
  // the order `siteloom secrets --help` lists them in
  registerInitCommand(secrets, ctx);
  registerValueCommands(secrets, ctx);
  registerListCommands(secrets, ctx);
  registerCopyCommand(secrets, ctx);
  registerExportCommand(secrets, ctx);
  registerMigrateCommand(secrets, ctx);
  registerBackendCommands(secrets, ctx);
  registerRecipientsCommands(secrets, ctx);
  registerTestCommand(secrets, ctx);
};
