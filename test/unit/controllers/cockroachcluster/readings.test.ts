// The pure readings the CockroachCluster controller's steps share: pods, Jobs, ordinals, and the conditions the
// lifecycle adds up to.
import { describe, expect, it } from "vitest";
import {
  jobOutput,
  jobPhase,
  podFailure,
  podReady,
} from "../../../../src/controllers/cockroachcluster/kinds.ts";
import { ordinalOf } from "../../../../src/controllers/cockroachcluster/nodes.ts";
import { type Lifecycle, lifecycleConditions } from "../../../../src/controllers/cockroachcluster/status.ts";

const now = new Date("2026-01-01T00:00:00Z");

function lifecycle(overrides: Partial<Lifecycle> = {}): Lifecycle {
  return {
    desiredNodes: 3,
    nodes: 3,
    readyNodes: 3,
    currentVersion: "v24.3.5",
    init: { initialized: true, reason: "Initialized", message: "cockroach init has completed" },
    scale: { replicas: 3, scalingDown: false, reason: "NoScaleDown", message: "3 nodes" },
    upgrade: {
      partitions: undefined,
      upgrading: false,
      currentVersion: "v24.3.5",
      reason: "UpToDate",
      message: "every node runs v24.3.5",
    },
    finalize: {
      finalizedVersion: "24.3",
      pending: false,
      reason: "Finalized",
      message: "the cluster version is 24.3",
    },
    ...overrides,
  };
}

const byType = (l: Lifecycle) =>
  Object.fromEntries(lifecycleConditions([], l, 1, now).map((c) => [c.type, `${c.status}/${c.reason}`]));

describe("lifecycle conditions", () => {
  it("reports Ready when initialized, every node is ready and nothing is moving", () => {
    expect(byType(lifecycle())).toEqual({
      Initialized: "True/Initialized",
      Available: "True/QuorumReady",
      Upgrading: "False/UpToDate",
      ScalingDown: "False/NoScaleDown",
      Ready: "True/Ready",
    });
  });

  it("is not available before init, whatever the pods say", () => {
    const l = lifecycle({ init: { initialized: false, reason: "InitRunning", message: "Job db-init runs" } });
    expect(byType(l)).toMatchObject({ Available: "False/NotInitialized", Ready: "False/InitRunning" });
  });

  it("stays available with a quorum while a scale-down waits for decommissioning", () => {
    const l = lifecycle({
      readyNodes: 2,
      scale: { replicas: 5, scalingDown: true, reason: "Decommissioning", message: "waiting for nodes 4, 5" },
    });
    expect(byType(l)).toMatchObject({
      Available: "True/QuorumReady",
      ScalingDown: "True/Decommissioning",
      Ready: "False/Decommissioning",
    });
  });

  it("keeps Ready but Upgrading while a major upgrade awaits manual finalization", () => {
    const l = lifecycle({
      finalize: {
        finalizedVersion: "24.3",
        pending: true,
        reason: "AwaitingFinalization",
        message: "set it to Auto",
      },
    });
    expect(byType(l)).toMatchObject({ Upgrading: "True/AwaitingFinalization", Ready: "True/Ready" });
  });

  it("names the failing pod as the reason an upgrade halted", () => {
    const l = lifecycle({
      readyNodes: 2,
      upgrade: {
        partitions: { db: 3 },
        upgrading: true,
        currentVersion: "v24.3.5",
        reason: "NodeFailing",
        message: "pod db-0 is failing (CrashLoopBackOff)",
      },
    });
    const ready = lifecycleConditions([], l, 1, now).find((c) => c.type === "Ready");
    expect(ready).toMatchObject({
      status: "False",
      reason: "NodeFailing",
      message: "pod db-0 is failing (CrashLoopBackOff)",
    });
  });
});

describe("pods and Jobs", () => {
  it("reads readiness and failures as the kubelet reports them", () => {
    expect(podReady({ status: { conditions: [{ type: "Ready", status: "True" }] } })).toBe(true);
    expect(
      podFailure({
        status: { containerStatuses: [{ name: "c", state: { waiting: { reason: "ContainerCreating" } } }] },
      }),
    ).toBeUndefined();
    expect(
      podFailure({
        status: { containerStatuses: [{ name: "c", state: { waiting: { reason: "ImagePullBackOff" } } }] },
      }),
    ).toBe("ImagePullBackOff");
    expect(
      podFailure({
        status: { containerStatuses: [{ name: "c", state: { terminated: { exitCode: 137 } } }] },
      }),
    ).toBe("container c exited with code 137");
  });

  it("takes a Job's phase from its conditions and its answer from its successful pod", () => {
    const job = { metadata: { name: "db-node-status-1", namespace: "ns" } };
    expect(jobPhase(job)).toBe("running");
    expect(jobPhase({ status: { conditions: [{ type: "Complete", status: "True" }] } })).toBe("succeeded");
    expect(jobPhase({ status: { conditions: [{ type: "Failed", status: "True" }] } })).toBe("failed");
    const pod = (phase: string, message: string, job = "db-node-status-1") => ({
      metadata: { namespace: "ns", labels: { "batch.kubernetes.io/job-name": job } },
      status: { phase, containerStatuses: [{ name: "sql", state: { terminated: { message } } }] },
    });
    expect(
      jobOutput(job, [
        pod("Failed", "timeout"),
        pod("Succeeded", "a,b\n1,2"),
        pod("Succeeded", "x", "other"),
      ]),
    ).toBe("a,b\n1,2");
    expect(jobOutput(job, [pod("Failed", "first"), pod("Failed", "second")])).toBe("second");
  });

  it("maps a pod name to its ordinal only within its own StatefulSet", () => {
    expect(ordinalOf("db-12", "db")).toBe(12);
    expect(ordinalOf("db-eu-1", "db")).toBeUndefined();
    expect(ordinalOf("db-eu-1", "db-eu")).toBe(1);
    expect(ordinalOf("other-0", "db")).toBeUndefined();
  });
});
