import { describe, expect, it } from "vitest";
import {
  cacheAndSqlMemory,
  finalizationStep,
  type ObservedPod,
  parseCockroachVersion,
  type RollingStatefulSet,
  rollingUpdateStep,
  scaleDownPlan,
  upgradePath,
} from "../../../../src/render/cockroach/decisions.ts";

describe("cacheAndSqlMemory", () => {
  it("turns shares into sizes of the memory limit, in MiB", () => {
    expect(cacheAndSqlMemory("8Gi")).toEqual({ cache: "2048MiB", maxSQLMemory: "2048MiB" });
    expect(cacheAndSqlMemory("8Gi", "30%", "20%")).toEqual({ cache: "2457MiB", maxSQLMemory: "1638MiB" });
  });

  it("passes absolute sizes in MiB", () => {
    expect(cacheAndSqlMemory("16Gi", "2Gi", "512Mi")).toEqual({ cache: "2048MiB", maxSQLMemory: "512MiB" });
    expect(cacheAndSqlMemory("8G")).toEqual({ cache: "1907MiB", maxSQLMemory: "1907MiB" });
  });

  it("warns when cache plus twice the SQL memory exceed 80% of the limit", () => {
    const flags = cacheAndSqlMemory("4Gi", "40%", "25%");
    expect(flags.cache).toBe("1638MiB");
    expect(flags.warning).toMatch(
      /exceed 80% of the memory limit \(4Gi\).*spec\.cache or spec\.maxSQLMemory/,
    );
  });

  it("leaves shares to CockroachDB without a limit, and says why that is risky", () => {
    const flags = cacheAndSqlMemory(undefined);
    expect([flags.cache, flags.maxSQLMemory]).toEqual(["25%", "25%"]);
    expect(flags.warning).toMatch(/spec\.resources\.limits\.memory/);
    expect(cacheAndSqlMemory(undefined, "1Gi", "1Gi")).toEqual({ cache: "1024MiB", maxSQLMemory: "1024MiB" });
  });
});

describe("upgradePath", () => {
  it("allows patch releases of the same major version, up and down", () => {
    expect(upgradePath("v25.2.4", "v25.2.6")).toEqual({ kind: "patch", from: "v25.2.4", to: "v25.2.6" });
    expect(upgradePath("v25.2.6", "v25.2.4")).toEqual({ kind: "patch", from: "v25.2.6", to: "v25.2.4" });
    expect(upgradePath("v25.2.4", "v25.2.4")).toEqual({ kind: "unchanged" });
    expect(upgradePath(undefined, "v25.2.4")).toEqual({ kind: "unchanged" });
  });

  it("allows one major version forward and holds the current one with preserve_downgrade_option", () => {
    expect(upgradePath("v24.3.12", "v25.1.0")).toEqual({
      kind: "major",
      from: "v24.3.12",
      to: "v25.1.0",
      preserveDowngradeOption: "24.3",
      skipped: undefined,
    });
    expect(upgradePath("v23.2.9", "v24.1.0")).toMatchObject({
      kind: "major",
      preserveDowngradeOption: "23.2",
    });
    expect(upgradePath("v25.4.1", "v26.1.0")).toMatchObject({
      kind: "major",
      preserveDowngradeOption: "25.4",
    });
  });

  it("lets a Regular release skip the Innovation release after it, but not an Innovation release skip anything", () => {
    expect(upgradePath("v24.1.5", "v24.3.0")).toMatchObject({ kind: "major", skipped: "24.2" });
    expect(upgradePath("v24.3.12", "v25.2.4")).toMatchObject({ kind: "major", skipped: "25.1" });
    expect(upgradePath("v25.2.4", "v25.4.0")).toMatchObject({ kind: "major", skipped: "25.3" });
    expect(upgradePath("v25.1.2", "v25.3.0")).toEqual({
      kind: "refused",
      reason: "InvalidSpec",
      message:
        "spec.version: cannot upgrade from v25.1.2 to v25.3.0 in one step: CockroachDB upgrades one major version " +
        "at a time (only an Innovation release may be skipped); upgrade to v25.2 first",
    });
  });

  it("refuses skipping a Regular release, naming spec.version and the versions to go through", () => {
    expect(upgradePath("v23.2.9", "v24.3.0")).toMatchObject({
      kind: "refused",
      message: expect.stringMatching(/^spec\.version: .*upgrade to v24\.1 first$/),
    });
    expect(upgradePath("v24.3.1", "v25.3.0")).toMatchObject({
      kind: "refused",
      message: expect.stringContaining("upgrade to v25.1 or v25.2 first"),
    });
  });

  it("allows rolling back a major upgrade only while it is not finalized", () => {
    expect(upgradePath("v25.2.4", "v24.3.12", { finalizedVersion: "24.3" })).toEqual({
      kind: "rollback",
      from: "v25.2.4",
      to: "v24.3.12",
    });
    expect(upgradePath("v25.2.4", "v24.3.12", { finalizedVersion: "25.2" })).toMatchObject({
      kind: "refused",
      message: expect.stringMatching(/^spec\.version: cannot go back from v25\.2\.4 to v24\.3\.12/),
    });
    expect(upgradePath("v25.2.4", "v24.1.0", { finalizedVersion: "24.1" })).toMatchObject({
      kind: "refused",
    });
  });

  it("refuses what is not a version", () => {
    expect(upgradePath("v25.2.4", "latest")).toMatchObject({
      kind: "refused",
      message: expect.stringContaining("spec.version"),
    });
  });

  it("reads pre-releases as their major version", () => {
    expect(parseCockroachVersion("v25.2.0-rc.1")).toEqual({
      year: 25,
      release: 2,
      patch: 0,
      prerelease: "rc.1",
    });
    expect(upgradePath("v25.1.3", "v25.2.0-rc.1")).toMatchObject({ kind: "major" });
  });
});

describe("finalizationStep", () => {
  const major = upgradePath("v24.3.12", "v25.2.4");

  it("finalizes once the rollout is complete when finalize is Auto", () => {
    expect(finalizationStep({ path: major, finalize: "Auto", rolloutComplete: true }).finalize).toBe(true);
    expect(finalizationStep({ path: major, finalize: "Auto", rolloutComplete: false }).finalize).toBe(false);
  });

  it("waits for the user when finalize is Manual, and says how to go on or back", () => {
    const step = finalizationStep({ path: major, finalize: "Manual", rolloutComplete: true });
    expect(step.finalize).toBe(false);
    expect(step.message).toMatch(
      /set it to Auto to finalize, or spec\.version back to v24\.3\.12 to roll back/,
    );
  });

  it("has nothing to finalize after a patch upgrade", () => {
    expect(
      finalizationStep({ path: upgradePath("v25.2.4", "v25.2.5"), finalize: "Auto", rolloutComplete: true })
        .finalize,
    ).toBe(false);
  });
});

describe("rollingUpdateStep", () => {
  const OLD = "v24.3.12";
  const NEW = "v25.2.4";
  const pods = (...versions: string[]): ObservedPod[] =>
    versions.map((version, ordinal) => ({ ordinal, version, ready: true }));
  const set = (
    name: string,
    partition: number,
    templateVersion: string,
    podList: ObservedPod[],
  ): RollingStatefulSet => ({
    name,
    replicas: podList.length,
    partition,
    templateVersion,
    pods: podList,
  });

  it("starts with the highest ordinal and holds every other pod, even before the new template is applied", () => {
    expect(rollingUpdateStep(NEW, [set("crdb", 0, OLD, pods(OLD, OLD, OLD))])).toEqual({
      step: "roll",
      statefulSet: "crdb",
      ordinal: 2,
      partitions: { crdb: 2 },
      message: "restarting pod crdb-2 with v25.2.4",
    });
  });

  it("moves one pod down once the restarted pod is ready on the new version", () => {
    expect(rollingUpdateStep(NEW, [set("crdb", 2, NEW, pods(OLD, OLD, NEW))])).toMatchObject({
      step: "roll",
      ordinal: 1,
      partitions: { crdb: 1 },
    });
  });

  it("waits while a pod is restarting, without moving the partition back up", () => {
    const restarting = [...pods(OLD, OLD), { ordinal: 2, version: NEW, ready: false }];
    expect(rollingUpdateStep(NEW, [set("crdb", 2, NEW, restarting)])).toEqual({
      step: "wait",
      reason: "NodeRestarting",
      partitions: { crdb: 2 },
      message: "waiting for pod crdb-2 to become ready",
    });
    const missing = pods(OLD, OLD);
    expect(rollingUpdateStep(NEW, [{ ...set("crdb", 2, NEW, missing), replicas: 3 }])).toMatchObject({
      step: "wait",
      partitions: { crdb: 2 },
      message: "waiting for pod crdb-2 to exist",
    });
  });

  it("does not start while any pod is unready, and holds the partition at replicas meanwhile", () => {
    const unready = [
      { ordinal: 0, version: OLD, ready: false },
      ...pods(OLD, OLD).map((p, i) => ({ ...p, ordinal: i + 1 })),
    ];
    expect(rollingUpdateStep(NEW, [set("crdb", 0, OLD, unready)])).toMatchObject({
      step: "wait",
      reason: "NodeNotReady",
      partitions: { crdb: 3 },
    });
  });

  it("stops on a failing pod and says why", () => {
    const failing = [
      ...pods(OLD, OLD),
      { ordinal: 2, version: NEW, ready: false, failure: "CrashLoopBackOff" },
    ];
    expect(rollingUpdateStep(NEW, [set("crdb", 2, NEW, failing)])).toMatchObject({
      step: "halt",
      reason: "NodeFailing",
      statefulSet: "crdb",
      ordinal: 2,
      partitions: { crdb: 2 },
      message: expect.stringMatching(/^pod crdb-2 runs v25\.2\.4 but is failing \(CrashLoopBackOff\)/),
    });
  });

  it("waits for under-replicated ranges before restarting the next node", () => {
    expect(
      rollingUpdateStep(NEW, [set("crdb", 2, NEW, pods(OLD, OLD, NEW))], { underReplicatedRanges: 4 }),
    ).toMatchObject({
      step: "wait",
      reason: "RangesUnderReplicated",
      partitions: { crdb: 2 },
    });
  });

  it("goes through regions one after another, one pod at a time", () => {
    const step = rollingUpdateStep(NEW, [
      set("crdb-a", 0, NEW, pods(NEW, NEW)),
      set("crdb-b", 1, NEW, pods(OLD, NEW)),
      set("crdb-c", 0, OLD, pods(OLD, OLD)),
    ]);
    expect(step).toMatchObject({ step: "roll", statefulSet: "crdb-b", ordinal: 0 });
    expect(step.partitions).toEqual({ "crdb-a": 0, "crdb-b": 0, "crdb-c": 2 });
  });

  it("is done when every pod runs the target version", () => {
    expect(rollingUpdateStep(NEW, [set("crdb", 0, NEW, pods(NEW, NEW, NEW))])).toEqual({
      step: "done",
      partitions: { crdb: 0 },
      message: "every node runs v25.2.4",
    });
  });
});

describe("scaleDownPlan", () => {
  const ids = new Map<number, number | null>([
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 4],
    [4, 5],
  ]);

  it("decommissions all departing nodes together, the highest ordinals", () => {
    expect(scaleDownPlan(5, 3, ids, false)).toEqual({
      step: "decommission",
      nodeIds: [4, 5],
      replicas: 5,
      message: "decommissioning nodes 4, 5 before removing their pods",
    });
  });

  it("keeps the replicas until every departing node reports decommissioned", () => {
    const membership = new Map([
      [4, "decommissioned" as const],
      [5, "decommissioning" as const],
    ]);
    expect(scaleDownPlan(5, 3, ids, false, { membership })).toMatchObject({
      step: "wait",
      reason: "Decommissioning",
      nodeIds: [5],
      replicas: 5,
    });
    membership.set(5, "decommissioned");
    expect(scaleDownPlan(5, 3, ids, false, { membership })).toMatchObject({ step: "scale", replicas: 3 });
  });

  it("decommissions again when one departing node is still active, so all go in one Job", () => {
    const membership = new Map([
      [4, "decommissioning" as const],
      [5, "active" as const],
    ]);
    expect(scaleDownPlan(5, 3, ids, false, { membership })).toMatchObject({
      step: "decommission",
      nodeIds: [4, 5],
    });
  });

  it("refuses to go below 3 nodes, or the replication factor, without spec.allowUnsafeNodeCount", () => {
    expect(scaleDownPlan(3, 2, ids, false)).toMatchObject({
      step: "refused",
      reason: "InvalidSpec",
      replicas: 3,
      message: expect.stringMatching(
        /^spec\.nodes: 2 nodes are fewer than 3 .*spec\.allowUnsafeNodeCount: true/,
      ),
    });
    expect(scaleDownPlan(5, 4, ids, false, { replicationFactor: 5 })).toMatchObject({ step: "refused" });
    expect(scaleDownPlan(3, 2, ids, true)).toMatchObject({ step: "decommission", nodeIds: [3] });
    expect(scaleDownPlan(3, 2, ids, false, { nodesInOtherRegions: 3 })).toMatchObject({
      step: "decommission",
    });
  });

  it("reports a blocked scale-down when spec.scaleDown.allowed is false", () => {
    expect(scaleDownPlan(5, 3, ids, false, { allowed: false })).toMatchObject({
      step: "blocked",
      reason: "ScaleDownBlocked",
      replicas: 5,
    });
  });

  it("waits to learn the node IDs of departing pods, and skips pods that never joined", () => {
    expect(scaleDownPlan(6, 3, ids, false)).toMatchObject({ step: "observe", ordinals: [5], replicas: 6 });
    const neverJoined = new Map(ids).set(5, null);
    expect(scaleDownPlan(6, 5, neverJoined, false)).toMatchObject({ step: "scale", replicas: 5 });
  });

  it("does nothing when the replicas are not lowered", () => {
    expect(scaleDownPlan(3, 3, ids, false)).toMatchObject({ step: "none", replicas: 3 });
    expect(scaleDownPlan(3, 5, ids, false)).toMatchObject({ step: "none", replicas: 5 });
  });
});
