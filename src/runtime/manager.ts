// The manager: one Kubernetes client, the controllers, leader election, the health and metrics server, and
// a graceful shutdown. Every replica keeps its caches warm; only the leader reconciles, and it stops the moment
// it loses the Lease. On SIGTERM: stop taking work, let reconciles in flight finish, release the Lease.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { ControllerLifecycle } from "./controller.ts";
import { KubeClient } from "./kube.ts";
import { LeaderElector } from "./leader.ts";
import type { Logger } from "./log.ts";
import { type HealthServer, operatorMetrics, startHealthServer } from "./metrics.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** Off: this process reconciles as soon as its caches are synced (one replica, tests, dev). */
  leaderElection?: LeaderElectionOptions;
  /** Where /healthz and /readyz listen; no server when undefined. */
  healthAddress?: string;
  /** Where /metrics listens; the health address when undefined. */
  metricsAddress?: string;
}

export class Manager {
  readonly client: KubeClient;
  readonly log: Logger;
  private readonly opts: ManagerOptions;
  private readonly controllers: ControllerLifecycle[] = [];
  private elector: LeaderElector | undefined;
  private health: HealthServer | undefined;
  private leading = false;
  private stopping: Promise<void> | undefined;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.client = new KubeClient(opts.kubeConfig, {
      onRequest: (verb, status) => operatorMetrics.recordApiRequest(verb, status),
    });
  }

  add(controller: ControllerLifecycle): void {
    this.controllers.push(controller);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Ready once every cache has listed: a new leader can then start at once. */
  get ready(): boolean {
    return this.controllers.every((c) => c.hasSynced);
  }

  /** The health server's address with its real port (for tests that listen on port 0). */
  get healthAddress(): string | undefined {
    return this.health?.address;
  }

  async start(): Promise<void> {
    if (this.opts.healthAddress) {
      this.health = await startHealthServer({
        address: this.opts.healthAddress,
        metricsAddress: this.opts.metricsAddress,
        ready: () => this.ready,
      });
      this.log.info("serving probes and metrics", {
        health: this.health.address,
        metrics: this.health.metricsAddress,
      });
    }
    for (const c of this.controllers) c.startCaches();
    const le = this.opts.leaderElection;
    if (!le) {
      await this.lead();
      return;
    }
    const identity = le.identity ?? `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString("hex")}`;
    this.elector = new LeaderElector({
      kubeConfig: this.opts.kubeConfig,
      namespace: le.namespace,
      name: le.name,
      identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      log: this.log,
      onStartedLeading: async (signal) => {
        await this.lead();
        // Reconcile until leadership ends, then stop before the elector may campaign again.
        await new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        await this.follow();
      },
      onStoppedLeading: () => this.log.info("stopped leading", { identity }),
    });
    this.log.info("campaigning for leadership", { lease: `${le.namespace}/${le.name}`, identity });
    this.elector.start();
  }

  /** Graceful stop: no new reconciles, wait for those in flight, release the Lease, stop the caches. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.follow();
      await this.elector?.stop({ release: true });
      await Promise.all(this.controllers.map((c) => c.stop()));
      await this.health?.close();
      this.log.info("stopped");
    })();
    return this.stopping;
  }

  private async lead(): Promise<void> {
    this.leading = true;
    operatorMetrics.setLeader(true);
    this.log.info("leading: reconciling");
    await Promise.all(this.controllers.map((c) => c.startReconciling()));
  }

  private async follow(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    operatorMetrics.setLeader(false);
    await Promise.all(this.controllers.map((c) => c.stopReconciling()));
  }
}
