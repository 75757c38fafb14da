import { KubeConfig } from "@kubernetes/client-node";
import { type Command, Option } from "commander";
import { startReceiver } from "../gitops/receiver.ts";
import { createOperator } from "../operator.ts";
import { createLogger, LOG_LEVELS, type Logger, parseLogLevel } from "../runtime/log.ts";
import type { Manager } from "../runtime/manager.ts";

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("run the operator: watch our resources and converge the cluster to them")
    .option(
      "--kubeconfig <path>",
      "kubeconfig to use (default: in-cluster config, then $KUBECONFIG, ~/.kube/config)",
    )
    .option(
      "--namespace <ns>",
      "watch only this namespace (repeatable; every namespace when not given)",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      "--leader-elect",
      "elect a leader among replicas through a Lease; only the leader reconciles",
      false,
    )
    .option(
      "--leader-election-namespace <ns>",
      "namespace of the leader Lease (default: $POD_NAMESPACE, else zitadel-operator)",
    )
    .option("--metrics-bind-address <addr>", "where /metrics listens", ":8080")
    .option("--health-probe-bind-address <addr>", "where /healthz and /readyz listen", ":8081")
    .option("--concurrency <n>", "reconciles per controller that may run at once", "2")
    .option(
      "--webhook-bind-address <addr>",
      "serve the Git webhook receiver here (POST /hook/<namespace>/<gitsource>, HMAC-SHA256 signed with the secret " +
        "in $ZITADEL_OPERATOR_WEBHOOK_SECRET); off when not given",
    )
    .option(
      "--git-cache-dir <dir>",
      "where GitSources keep their repositories (default: a directory in $TMPDIR)",
    )
    .addOption(
      new Option("--log-level <level>", "least important log level written")
        .choices(LOG_LEVELS)
        .default("info"),
    )
    .action(async (opts: RunFlags) => {
      const log = createLogger({ level: parseLogLevel(opts.logLevel) });
      const kubeConfig = new KubeConfig();
      if (opts.kubeconfig) kubeConfig.loadFromFile(opts.kubeconfig);
      else kubeConfig.loadFromDefault();
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1)
        throw new Error("--concurrency must be a whole number ≥ 1");
      const manager = createOperator({
        kubeConfig,
        log,
        namespaces: opts.namespace,
        concurrency,
        leaderElectionNamespace: opts.leaderElect
          ? (opts.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? "zitadel-operator")
          : undefined,
        healthAddress: opts.healthProbeBindAddress,
        metricsAddress: opts.metricsBindAddress,
        gitCacheDir: opts.gitCacheDir,
      });
      await manager.start();
      const receiver = opts.webhookBindAddress
        ? await startWebhook(opts.webhookBindAddress, manager, log, opts)
        : undefined;
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      log.info("shutting down");
      receiver?.close();
      await manager.stop();
    });
}

/** The webhook receiver only sets the requested-at annotation of a GitSource; the secret never comes from a flag. */
async function startWebhook(address: string, manager: Manager, log: Logger, opts: RunFlags) {
  const secret = process.env.ZITADEL_OPERATOR_WEBHOOK_SECRET;
  if (!secret) {
    throw new Error("--webhook-bind-address needs the HMAC secret in $ZITADEL_OPERATOR_WEBHOOK_SECRET");
  }
  const { server, url } = await startReceiver(address, {
    client: manager.client,
    secret,
    log,
    namespaces: opts.namespace,
  });
  log.info("serving the Git webhook receiver", { url });
  return server;
}

interface RunFlags {
  webhookBindAddress?: string;
  gitCacheDir?: string;
  kubeconfig?: string;
  namespace: string[];
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  concurrency: string;
  logLevel: string;
}
