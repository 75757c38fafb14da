// Leader election on a coordination.k8s.io/v1 Lease, so that of several operator replicas exactly one
// reconciles. The rules are client-go's (tools/leaderelection), which every controller on Kubernetes follows:
//
// - A candidate takes the Lease when nobody holds it, or when the holder has not renewed it for
//   leaseDurationSeconds. "Not renewed" is judged by the candidate's own clock: it notes the local time at which
//   it last saw the Lease record change and waits leaseDuration from then. The timestamps in the Lease are
//   written by another machine and never compared with ours, so clock skew between nodes cannot hand the Lease
//   to two replicas.
// - The leader renews every retryPeriod. If it cannot renew for renewDeadline (shorter than leaseDuration), it
//   stops leading before anyone else may start: the signal given to onStartedLeading is aborted and
//   onStoppedLeading is called.
// - Every write is an update that carries the resourceVersion it read; a conflict means someone else wrote
//   first, and they won.
// - On a graceful stop the leader releases the Lease (empty holder), so a successor takes over at once instead
//   of waiting for it to expire.
//
// Identities must be unique per process (for example the pod name plus a random suffix): two processes with
// the same identity would both believe they hold the Lease.

import {
  type ConfigurationOptions,
  CoordinationV1Api,
  type KubeConfig,
  Observable,
  type ObservableMiddleware,
  type V1Lease,
  type V1LeaseSpec,
  V1MicroTime,
} from "@kubernetes/client-node";
import type { Logger } from "./log.ts";

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  /** Where the Lease lives; usually the operator's own namespace. */
  namespace: string;
  /** The Lease's name, the same for every replica. */
  name: string;
  /** Who this replica is; unique per process. */
  identity: string;
  /** How long others wait after the last renewal they saw before taking over. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leading. Default 10 s. */
  renewDeadlineMs?: number;
  /** How often candidates try to acquire, and the leader renews. Default 2 s. */
  retryPeriodMs?: number;
  /**
   * Called on becoming leader. The signal is aborted when leadership ends; a returned promise should settle
   * once the work has stopped, and the elector waits for it before releasing the Lease or campaigning again.
   */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called when leadership ends, lost or given up. A process that prefers to exit on loss does so here. */
  onStoppedLeading: () => void;
  log: Logger;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly name: string;
  private readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly onStartedLeading: LeaderElectorOptions["onStartedLeading"];
  private readonly onStoppedLeading: () => void;
  private readonly log: Logger;

  /** The Lease as last read or written, and the local time at which its record last changed. */
  private observed: { lease: V1Lease; record: string; at: number } | undefined;
  /** Local time at which the last successful write of ours was sent: what renewDeadline counts from. */
  private lastWriteSentAt = 0;
  private leading = false;
  private loop: Promise<void> | undefined;
  /** Set by stop(): candidates stop campaigning; the leader keeps renewing until its work has stopped. */
  private stopping = false;
  /** Set once the leader's work has stopped during stop(): the renew loop may end. */
  private stopRenewing = false;
  /** The current term's work; undefined between terms. */
  private work: AbortController | undefined;
  private workSettled: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.identity = opts.identity;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.onStartedLeading = opts.onStartedLeading;
    this.onStoppedLeading = opts.onStoppedLeading;
    this.log = opts.log.with({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    if (!opts.identity) throw new Error("leader election needs an identity");
    // The leader must give up before a candidate may take over, with room for one retry in between.
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) {
      throw new Error("leaseDurationMs must be greater than renewDeadlineMs");
    }
    if (!(this.renewDeadlineMs > this.retryPeriodMs * 1.2)) {
      throw new Error("renewDeadlineMs must be greater than 1.2 × retryPeriodMs");
    }
  }

  /** Starts campaigning in the background. */
  start(): void {
    if (this.loop) throw new Error("the leader elector was already started");
    this.loop = this.run();
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Stops campaigning. A leader aborts its work, keeps the Lease renewed until that work has stopped, then
   * releases it (unless `release` is false: then others wait for it to expire, as if this process had died).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.work?.abort();
    await this.workSettled;
    this.stopRenewing = true;
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      if (opts.release ?? true) await this.release();
      if (this.work) this.onStoppedLeading();
      this.work = undefined;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (await this.tryAcquireOrRenew(this.retryPeriodMs)) {
        await this.lead();
        if (this.leading) return; // stop() ends the leadership
      } else {
        // Jitter keeps candidates that started together from knocking at the same moment.
        await this.sleep(this.retryPeriodMs * (1 + 0.2 * Math.random()));
      }
    }
  }

  /** Runs from acquiring the Lease until leadership is lost or stop() is done with the work. */
  private async lead(): Promise<void> {
    this.leading = true;
    if (this.stopping) return; // acquired while stop() was waiting: release without starting a term
    let renewedAt = this.lastWriteSentAt;
    const work = new AbortController();
    this.work = work;
    this.log.info("became leader", { leaseTransitions: this.observed?.lease.spec?.leaseTransitions });
    this.workSettled = Promise.resolve()
      .then(() => this.onStartedLeading(work.signal))
      .catch((err: unknown) => this.log.error("the leader's work failed", { err }));

    while (!this.stopRenewing) {
      const deadline = renewedAt + this.renewDeadlineMs;
      await this.sleep(Math.min(this.retryPeriodMs, Math.max(0, deadline - Date.now())));
      if (this.stopRenewing) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return this.loseLeadership(work, `could not renew for ${this.renewDeadlineMs} ms`);
      if (await this.tryAcquireOrRenew(remaining)) {
        renewedAt = this.lastWriteSentAt;
      } else if (this.holder() !== this.identity) {
        return this.loseLeadership(work, `the Lease is held by ${this.holder() || "nobody"}`);
      }
    }
  }

  private async loseLeadership(work: AbortController, reason: string): Promise<void> {
    this.leading = false;
    this.log.warn("lost leadership", { reason });
    work.abort();
    this.work = undefined;
    this.onStoppedLeading();
    // No second term may start while the first one's work is still running.
    await this.workSettled;
  }

  /**
   * One attempt to take or renew the Lease, within `timeoutMs`. True when we hold it afterwards.
   *
   * This is the one place the operator writes with update instead of server-side apply: a lock is a
   * compare-and-swap, and update with the resourceVersion we read is exactly that. Apply would merge our write
   * over a concurrent takeover and leave two leaders.
   */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<boolean> {
    const sentAt = Date.now();
    const options = withSignal(AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs))));
    const ref = { namespace: this.namespace, name: this.name };
    const wrote = (lease: V1Lease) => {
      this.observe(lease);
      this.lastWriteSentAt = sentAt;
      return true;
    };

    // A leader renews from the Lease it wrote last, saving a read; a conflict sends it the slow way.
    if (this.leading && this.observed) {
      try {
        return wrote(
          await this.api.replaceNamespacedLease({ ...ref, body: this.renewed(this.observed.lease) }, options),
        );
      } catch (err) {
        if (statusOf(err) !== 409) return this.failed("renew", err);
      }
    }

    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease(ref, options);
    } catch (err) {
      if (statusOf(err) !== 404) return this.failed("read", err);
      try {
        const fresh: V1Lease = { metadata: { name: this.name, namespace: this.namespace } };
        return wrote(
          await this.api.createNamespacedLease(
            { namespace: this.namespace, body: this.renewed(fresh) },
            options,
          ),
        );
      } catch (createErr) {
        return statusOf(createErr) === 409 ? false : this.failed("create", createErr);
      }
    }
    this.observe(lease);
    const holder = lease.spec?.holderIdentity ?? "";
    if (holder !== "" && holder !== this.identity && !this.expired()) return false;
    try {
      return wrote(await this.api.replaceNamespacedLease({ ...ref, body: this.renewed(lease) }, options));
    } catch (err) {
      return statusOf(err) === 409 ? false : this.failed("update", err);
    }
  }

  /** The Lease with us as holder, renewed now; a takeover starts a new term and counts a transition. */
  private renewed(lease: V1Lease): V1Lease {
    const now = new V1MicroTime(Date.now());
    const previous = lease.spec ?? {};
    const ours = previous.holderIdentity === this.identity;
    const spec: V1LeaseSpec = {
      ...previous,
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      renewTime: now,
      acquireTime: ours && previous.acquireTime ? previous.acquireTime : now,
      leaseTransitions:
        ours || lease.metadata?.resourceVersion === undefined
          ? (previous.leaseTransitions ?? 0)
          : (previous.leaseTransitions ?? 0) + 1,
    };
    return { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: lease.metadata, spec };
  }

  /** Gives the Lease up: no holder and a one-second duration, as client-go does, so a candidate takes it now. */
  private async release(): Promise<void> {
    if (!this.observed || this.holder() !== this.identity) return;
    const now = new V1MicroTime(Date.now());
    const spec = this.observed.lease.spec ?? {};
    const body: V1Lease = {
      ...this.observed.lease,
      spec: { ...spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
    };
    try {
      await this.api.replaceNamespacedLease(
        { namespace: this.namespace, name: this.name, body },
        withSignal(AbortSignal.timeout(this.renewDeadlineMs)),
      );
      this.log.info("released the Lease");
    } catch (err) {
      this.log.warn("could not release the Lease; others take over when it expires", { err });
    }
  }

  /** Remembers the Lease; the clock for its expiry restarts only when the record itself changed. */
  private observe(lease: V1Lease): void {
    const spec = lease.spec ?? {};
    const record = JSON.stringify([
      spec.holderIdentity ?? "",
      spec.leaseDurationSeconds,
      spec.leaseTransitions,
      String(spec.acquireTime),
      String(spec.renewTime),
    ]);
    const changed = this.observed?.record !== record;
    this.observed = { lease, record, at: changed ? Date.now() : (this.observed?.at ?? Date.now()) };
  }

  private expired(): boolean {
    if (!this.observed) return true;
    const seconds = this.observed.lease.spec?.leaseDurationSeconds;
    const durationMs = seconds !== undefined ? seconds * 1000 : this.leaseDurationMs;
    return Date.now() >= this.observed.at + durationMs;
  }

  private holder(): string {
    return this.observed?.lease.spec?.holderIdentity ?? "";
  }

  private failed(step: string, err: unknown): false {
    // A leader that cannot renew is close to losing its term, which an engineer on call wants to see; a
    // candidate that cannot read the Lease just tries again.
    const fields = { err: describe(err) };
    if (this.leading) this.log.warn(`could not ${step} the Lease`, fields);
    else this.log.debug(`could not ${step} the Lease`, fields);
    return false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.wake = done;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

function describe(err: unknown): string {
  const code = statusOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code !== undefined) return `HTTP ${code}: ${message.split("\n")[0]}`;
  // undici says only "fetch failed"; the cause says why (ECONNREFUSED, a timeout, a TLS error).
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
  return cause ? `${message}: ${cause.message}` : message;
}

// client-node has no per-call timeout; a request context can carry an AbortSignal, set here through a middleware.
// Without it a request to an unreachable API server could outlive the renew deadline.
function withSignal(signal: AbortSignal): ConfigurationOptions<ObservableMiddleware> {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}
