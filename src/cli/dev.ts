import type { Command } from "commander";
import { defaultStateDir, devDown, devServe, devUp, readState } from "../dev/environment.ts";

export function registerDevCommand(program: Command): void {
  const dev = program
    .command("dev")
    .description(
      "a local Kubernetes control plane with the operator and the example stack (no Docker needed)",
    );

  dev
    .command("up")
    .description("start the control plane, install the CRDs, start the operator and apply examples/")
    .option("--state-dir <dir>", "where the cluster's data, kubeconfig and logs go", defaultStateDir())
    .option("--nodes <n>", "number of simulated nodes", "3")
    .action(async (opts: { stateDir: string; nodes: string }) => {
      const state = await devUp(opts.stateDir, { nodes: Number(opts.nodes), log: (l) => console.log(l) });
      console.log(`
The dev environment is up: Kubernetes at ${state.server}, ${opts.nodes} simulated nodes (kwok).
  kubeconfig: ${state.kubeconfig}
  example stack: namespace ${state.namespace}
  operator metrics: ${state.metrics}

Try:
  export KUBECONFIG=${state.kubeconfig}
  kubectl get zitadel-operator -n ${state.namespace}      # every resource of ours (kubectl optional)
  npx zitadel-operator dev status                    # the same without kubectl
  npx zitadel-operator dev down                      # stop everything

The pods are simulated (kwok runs no container): the CockroachCluster and the Zitadel become Ready within
seconds, but the first Backup ends Failed (NoResult) after a minute, as no Job really ran. The examples were
adapted to the simulator (storage class, a PriorityClass, placeholder Secrets); dev.log lists each change.

Logs: ${opts.stateDir}/dev.log and ${opts.stateDir}/cluster/logs/`);
    });

  dev
    .command("down")
    .description("stop the dev environment and everything it started")
    .option("--state-dir <dir>", "the state directory of 'dev up'", defaultStateDir())
    .action(async (opts: { stateDir: string }) => {
      const stopped = await devDown(opts.stateDir, (l) => console.log(l));
      console.log(stopped ? "The dev environment is stopped." : "No dev environment was running.");
    });

  dev
    .command("status")
    .description("say whether the dev environment runs, and list the resources of the example stack")
    .option("--state-dir <dir>", "the state directory of 'dev up'", defaultStateDir())
    .action(async (opts: { stateDir: string }) => {
      const state = await readState(opts.stateDir);
      if (!state?.ready) {
        console.log("No dev environment is running. Start one with: npx zitadel-operator dev up");
        process.exitCode = 3;
        return;
      }
      const { printStackStatus } = await import("../dev/status.ts");
      await printStackStatus(state);
    });

  dev
    .command("serve", { hidden: true })
    .description("the supervisor that 'dev up' starts in the background")
    .requiredOption("--state-dir <dir>")
    .option("--nodes <n>", "number of simulated nodes", "3")
    .action((opts: { stateDir: string; nodes: string }) =>
      devServe(opts.stateDir, { nodes: Number(opts.nodes) }),
    );
}
