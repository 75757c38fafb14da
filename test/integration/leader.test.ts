// Leader election against a real API server: several electors in one process, each with its own identity,
// compete for one Lease as replicas of the operator would.

import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LeaderElector } from "../../src/runtime/leader.ts";
import { createLogger } from "../../src/runtime/log.ts";
import { sharedKubeConfig, startControlPlane, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

// Short durations keep the tests quick; the ratios are the defaults' (15 s / 10 s / 2 s) squeezed.
const LEASE_MS = 3_000;
const RENEW_MS = 2_000;
const RETRY_MS = 500;

interface Candidate {
  identity: string;
  elector: LeaderElector;
  /** Every term this candidate started, with its signal and when it ended. */
  terms: { signal: AbortSignal; startedAt: number; stoppedAt?: number }[];
}

const running: Candidate[] = [];

function candidate(kc: KubeConfig, namespace: string, lease: string, identity: string): Candidate {
  const terms: Candidate["terms"] = [];
  const elector = new LeaderElector({
    kubeConfig: kc,
    namespace,
    name: lease,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_MS,
    retryPeriodMs: RETRY_MS,
    onStartedLeading: (signal) => {
      terms.push({ signal, startedAt: Date.now() });
    },
    onStoppedLeading: () => {
      const term = terms.at(-1);
      if (term) term.stoppedAt = Date.now();
    },
    log: createLogger({ level: "warn", fields: { test: "leader" } }),
  });
  const c = { identity, elector, terms };
  running.push(c);
  elector.start();
  return c;
}

/** Watches the candidates for `ms` and fails if two of them lead at once. */
async function neverTwoLeaders(candidates: Candidate[], ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const leaders = candidates.filter((c) => c.elector.isLeader()).map((c) => c.identity);
    expect(leaders.length).toBeLessThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function leaderOf(candidates: Candidate[], timeoutMs = 10_000): Promise<Candidate> {
  return eventually(
    () => {
      const leaders = candidates.filter((c) => c.elector.isLeader());
      expect(leaders).toHaveLength(1);
      return leaders[0] as Candidate;
    },
    { timeoutMs, intervalMs: 20 },
  );
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.elector.stop({ release: false })));
});

describe("leader election on the shared control plane", () => {
  let kc: KubeConfig;
  let ns: string;
  let leases: CoordinationV1Api;

  beforeAll(async () => {
    kc = sharedKubeConfig();
    ns = await testNamespace(kc, "leader");
    leases = kc.makeApiClient(CoordinationV1Api);
  });

  it("lets exactly one of two replicas lead, and records it in the Lease", async () => {
    const a = candidate(kc, ns, "one-of-two", "replica-a");
    const b = candidate(kc, ns, "one-of-two", "replica-b");
    const leader = await leaderOf([a, b]);
    await neverTwoLeaders([a, b], 2 * LEASE_MS);
    expect((await leaderOf([a, b])).identity).toBe(leader.identity);
    expect(leader.terms).toHaveLength(1);
    expect(leader.terms[0]?.signal.aborted).toBe(false);
    const lease = await leases.readNamespacedLease({ name: "one-of-two", namespace: ns });
    expect(lease.spec?.holderIdentity).toBe(leader.identity);
    expect(lease.spec?.leaseDurationSeconds).toBe(3);
    expect(lease.spec?.leaseTransitions).toBe(0);
  });

  it("hands over at once when the leader stops and releases the Lease", async () => {
    const a = candidate(kc, ns, "release", "replica-a");
    const b = candidate(kc, ns, "release", "replica-b");
    const first = await leaderOf([a, b]);
    const other = first === a ? b : a;
    const stoppedAt = Date.now();
    await first.elector.stop();
    expect(first.terms[0]?.signal.aborted).toBe(true);
    expect(first.terms[0]?.stoppedAt).toBeDefined();
    await leaderOf([other], 5_000);
    const handover = Date.now() - stoppedAt;
    console.log(`[leader] handover after release: ${handover} ms`);
    // One retry period (with jitter) at most, far less than the lease duration.
    expect(handover).toBeLessThan(RETRY_MS * 1.2 + 1_000);
    const lease = await leases.readNamespacedLease({ name: "release", namespace: ns });
    expect(lease.spec?.holderIdentity).toBe(other.identity);
    expect(lease.spec?.leaseTransitions).toBe(1);
  });

  it("takes over from a leader that died without releasing, once the lease has expired", async () => {
    const a = candidate(kc, ns, "crash", "replica-a");
    const b = candidate(kc, ns, "crash", "replica-b");
    const first = await leaderOf([a, b]);
    const other = first === a ? b : a;
    // Let the survivor see a few renewals, as it would in a running deployment.
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    const diedAt = Date.now();
    await first.elector.stop({ release: false });
    await leaderOf([other], 10_000);
    const takeover = Date.now() - diedAt;
    console.log(`[leader] takeover after a crash: ${takeover} ms (lease ${LEASE_MS} ms)`);
    // Not before the lease could have expired (the survivor may have seen the last renewal up to one retry
    // period before the crash), and within a lease duration plus one retry period.
    expect(takeover).toBeGreaterThanOrEqual(LEASE_MS - 2 * RETRY_MS);
    expect(takeover).toBeLessThan(LEASE_MS + RETRY_MS * 1.2 + 1_000);
    const lease = await leases.readNamespacedLease({ name: "crash", namespace: ns });
    expect(lease.spec?.holderIdentity).toBe(other.identity);
  });
});

describe("a leader cut off from its API server", () => {
  let cp: Awaited<ReturnType<typeof startControlPlane>>;

  beforeAll(async () => {
    cp = await startControlPlane({ name: "leader", nodes: 1 });
  });
  afterAll(async () => {
    await Promise.all(running.splice(0).map((c) => c.elector.stop({ release: false })));
    await cp?.stop();
  });

  it("stops leading within the renew deadline, and leads again when the API server is back", async () => {
    const kc = cp.kubeConfig();
    const a = candidate(kc, "default", "cut-off", "replica-a");
    await leaderOf([a]);
    const term = a.terms[0];
    await new Promise((r) => setTimeout(r, 2 * RETRY_MS));

    // kube-apiserver shuts down gracefully and may answer for a while after SIGTERM: a probe of our own
    // notes the last moment it did, which is when the leader's renewals could last have succeeded.
    const probe = kc.makeApiClient(CoordinationV1Api);
    let lastAnswerAt = Date.now();
    let probing = true;
    const probing$ = (async () => {
      while (probing) {
        const sentAt = Date.now();
        const answered = await probe
          .readNamespacedLease({ name: "cut-off", namespace: "default" })
          .then(() => true)
          .catch(() => false);
        if (answered) lastAnswerAt = sentAt;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const stopping = Date.now();
    await cp.stopApiServer();
    await eventually(() => expect(a.elector.isLeader()).toBe(false), { timeoutMs: 10_000, intervalMs: 20 });
    probing = false;
    await probing$;
    const lostAt = term?.stoppedAt ?? Date.now();
    const lostAfter = lostAt - lastAnswerAt;
    console.log(
      `[leader] API server last answered ${lastAnswerAt - stopping} ms after SIGTERM; leadership lost ` +
        `${lostAfter} ms after that (renew deadline ${RENEW_MS} ms, lease ${LEASE_MS} ms)`,
    );
    expect(term?.signal.aborted).toBe(true);
    expect(term?.stoppedAt).toBeDefined();
    // Within the renew deadline of the last renewal that could have succeeded, so before anyone else could take
    // over (a lease duration after they saw that renewal).
    expect(lostAfter).toBeLessThanOrEqual(RENEW_MS + 250);

    await cp.startApiServer();
    await leaderOf([a], 30_000);
    expect(a.terms).toHaveLength(2);
    expect(a.terms[1]?.signal.aborted).toBe(false);
  });
});
