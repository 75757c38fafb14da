// The operator process: a manager with every controller, as `zitadel-operator run` and `dev up` start it.
import type { KubeConfig } from "@kubernetes/client-node";
import { registerControllers } from "./controllers/index.ts";
import { LEADER_ELECTION_LEASE } from "./install/rbac.ts";
import type { Logger } from "./runtime/log.ts";
import { Manager } from "./runtime/manager.ts";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  namespaces?: string[];
  concurrency?: number;
  /** The namespace of the leader Lease; leader election is off when undefined. */
  leaderElectionNamespace?: string;
  healthAddress?: string;
  metricsAddress?: string;
  gitCacheDir?: string;
}

export function createOperator(opts: OperatorOptions): Manager {
  const manager = new Manager({
    kubeConfig: opts.kubeConfig,
    log: opts.log,
    healthAddress: opts.healthAddress,
    metricsAddress: opts.metricsAddress,
    leaderElection: opts.leaderElectionNamespace
      ? { namespace: opts.leaderElectionNamespace, name: LEADER_ELECTION_LEASE }
      : undefined,
  });
  registerControllers(manager, {
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    gitCacheDir: opts.gitCacheDir,
  });
  return manager;
}
