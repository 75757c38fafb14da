import { Command } from "commander";
import { registerBackupCommand } from "./backup.ts";
import { registerCertsCommand } from "./certs.ts";
import { registerControlPlaneCommand } from "./controlplane.ts";
import { registerCrdsCommand } from "./crds.ts";
import { registerDevCommand } from "./dev.ts";
import { registerInstallCommand } from "./install.ts";
import { registerJobCommand } from "./job.ts";
import { registerPlanCommand } from "./plan.ts";
import { registerRenderCommand } from "./render.ts";
import { registerRestoreCommand } from "./restore.ts";
import { registerRunCommand } from "./run.ts";
import { registerSecretCommand } from "./secret.ts";

// Each subcommand lives in its own module under src/cli/ and exports a function that registers it.
const program = new Command("zitadel-operator")
  .description(
    "Runs ZITADEL and its CockroachDB or PostgreSQL database on Kubernetes from custom resources and Git.",
  )
  .showHelpAfterError()
  .enablePositionalOptions();

registerControlPlaneCommand(program);
registerRunCommand(program);
registerCrdsCommand(program);
registerCertsCommand(program);
registerInstallCommand(program);
registerDevCommand(program);
registerRenderCommand(program);
registerPlanCommand(program);
registerSecretCommand(program);
registerJobCommand(program);
registerBackupCommand(program);
registerRestoreCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Expected failures (bad input, unreachable cluster) are printed as one line without a stack trace.
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
