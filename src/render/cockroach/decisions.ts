// The decisions a CockroachCluster reconciler takes between renders, as pure functions of what it observed: how
// large the caches are, whether a version change is allowed, when to lower replicas during a scale-down and which
// pod an upgrade restarts next. Each returns a value with a reason and a message for the condition, never throws.

import { parseQuantity } from "../../api/quantity.ts";

// ---------------------------------------------------------------------------------------------------------------
// Memory

export interface MemoryFlags {
  /** Value for --cache. */
  readonly cache: string;
  /** Value for --max-sql-memory. */
  readonly maxSQLMemory: string;
  /** Why the sizes look risky, for an Event; undefined when they are fine. */
  readonly warning?: string;
}

const MIB = 2 ** 20;
// (2 × --max-sql-memory) + --cache should stay below 80% of the memory the process may use.
// https://www.cockroachlabs.com/docs/v26.1/recommended-production-settings#cache-and-sql-memory-size
const MEMORY_BUDGET_SHARE = 0.8;

/**
 * --cache and --max-sql-memory for a pod with `memoryLimit` (the container's memory limit, else its request).
 * Shares ("25%") become absolute sizes of the limit, so CockroachDB sizes its caches after what Kubernetes lets it
 * use and not after the Kubernetes node's memory; sizes ("1Gi") are passed in MiB. Without a limit, shares are
 * passed through and CockroachDB applies them to the memory it detects.
 */
export function cacheAndSqlMemory(
  memoryLimit: string | undefined,
  cache = "25%",
  maxSQLMemory = "25%",
): MemoryFlags {
  const limit = memoryLimit === undefined ? undefined : parseQuantity(memoryLimit);
  const cacheBytes = bytesOf(cache, limit);
  const sqlBytes = bytesOf(maxSQLMemory, limit);
  const flags = { cache: flagValue(cache, cacheBytes), maxSQLMemory: flagValue(maxSQLMemory, sqlBytes) };
  if (limit === undefined) {
    if (cacheBytes !== undefined && sqlBytes !== undefined) return flags;
    return {
      ...flags,
      warning:
        "no memory limit or request is set: CockroachDB sizes --cache and --max-sql-memory after the memory it " +
        "detects, which may be the whole Kubernetes node's; set spec.resources.limits.memory",
    };
  }
  if (
    cacheBytes !== undefined &&
    sqlBytes !== undefined &&
    cacheBytes + 2 * sqlBytes > MEMORY_BUDGET_SHARE * limit
  ) {
    return {
      ...flags,
      warning:
        `--cache (${flags.cache}) plus twice --max-sql-memory (${flags.maxSQLMemory}) exceed 80% of the memory ` +
        `limit (${memoryLimit}): the pod risks being OOM-killed; lower spec.cache or spec.maxSQLMemory`,
    };
  }
  return flags;
}

function bytesOf(size: string, limit: number | undefined): number | undefined {
  const share = /^(\d+)%$/.exec(size);
  if (share?.[1] !== undefined) return limit === undefined ? undefined : (limit * Number(share[1])) / 100;
  return parseQuantity(size);
}

function flagValue(size: string, bytes: number | undefined): string {
  if (bytes === undefined) return size;
  return `${Math.max(1, Math.floor(bytes / MIB))}MiB`;
}

// ---------------------------------------------------------------------------------------------------------------
// Versions

export interface CockroachVersion {
  /** YY of vYY.R.PP. */
  readonly year: number;
  /** R of vYY.R.PP: the major release of that year. */
  readonly release: number;
  readonly patch: number;
  readonly prerelease: string | undefined;
}

/** "v25.2.4" or "v25.2.0-rc.1"; undefined for anything else. */
export function parseCockroachVersion(version: string): CockroachVersion | undefined {
  const match = /^v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(version);
  if (match === null) return undefined;
  return {
    year: Number(match[1]),
    release: Number(match[2]),
    patch: Number(match[3]),
    prerelease: match[4],
  };
}

/** The major version ("25.2"), which is also what cluster.preserve_downgrade_option and `version` hold. */
export function majorVersion(version: CockroachVersion): string {
  return `${version.year}.${version.release}`;
}

export type UpgradePath =
  | { readonly kind: "unchanged" }
  | { readonly kind: "patch"; readonly from: string; readonly to: string }
  | {
      readonly kind: "major";
      readonly from: string;
      readonly to: string;
      /** Set cluster.preserve_downgrade_option to this before the first pod restarts. */
      readonly preserveDowngradeOption: string;
      /** The Innovation release the upgrade skips, if it does. */
      readonly skipped: string | undefined;
    }
  | { readonly kind: "rollback"; readonly from: string; readonly to: string }
  | { readonly kind: "refused"; readonly reason: "InvalidSpec"; readonly message: string };

/**
 * Whether the cluster may move from `current` (what every node runs) to `target` (spec.version).
 * - a patch release of the same major version, up or down: roll the pods;
 * - the next major version, or the one after when the next is an Innovation release and `current` is not:
 *   hold finalization with cluster.preserve_downgrade_option, roll, then finalize;
 * - back to the major version a not yet finalized upgrade came from (`finalizedVersion`, the `version` cluster
 *   setting, still equals it): roll back;
 * - anything else is refused.
 * https://www.cockroachlabs.com/docs/v26.1/upgrade-cockroach-version
 */
export function upgradePath(
  current: string | undefined,
  target: string,
  options: { readonly finalizedVersion?: string } = {},
): UpgradePath {
  const to = parseCockroachVersion(target);
  if (to === undefined) return refused(`"${target}" is not a CockroachDB version such as v25.2.4`);
  // A new cluster starts at the target; there is nothing to upgrade from.
  if (current === undefined || current === target) return { kind: "unchanged" };
  const from = parseCockroachVersion(current);
  if (from === undefined) return refused(`the running version "${current}" is not a CockroachDB version`);
  const fromMajor = majorVersion(from);
  const toMajor = majorVersion(to);
  if (fromMajor === toMajor) return { kind: "patch", from: current, to: target };

  const forward = allowedMajorTargets(from);
  const index = forward.indexOf(toMajor);
  if (index >= 0) {
    return {
      kind: "major",
      from: current,
      to: target,
      preserveDowngradeOption: fromMajor,
      skipped: index === 1 ? forward[0] : undefined,
    };
  }
  if (compareMajor(to, from) < 0) {
    const finalized = options.finalizedVersion;
    if (finalized !== undefined && finalized === toMajor && allowedMajorTargets(to).includes(fromMajor)) {
      return { kind: "rollback", from: current, to: target };
    }
    return refused(
      `cannot go back from ${current} to ${target}: a major version can only be rolled back to the one it came ` +
        "from, and only until the upgrade is finalized (spec.upgrade.finalize: Manual keeps that possible)",
    );
  }
  return refused(
    `cannot upgrade from ${current} to ${target} in one step: CockroachDB upgrades one major version at a time ` +
      `(only an Innovation release may be skipped); upgrade to ${forward.map((m) => `v${m}`).join(" or ")} first`,
  );
}

function refused(detail: string): UpgradePath {
  return { kind: "refused", reason: "InvalidSpec", message: `spec.version: ${detail}` };
}

function compareMajor(a: CockroachVersion, b: CockroachVersion): number {
  return a.year !== b.year ? a.year - b.year : a.release - b.release;
}

// Major releases: YY.1 and YY.2 until 2023; 24.1, 24.2 and 24.3 in 2024; YY.1 to YY.4 from 2025 on. Since 2024
// every second one (24.2, 25.1, 25.3, 26.1, ...) is an Innovation release, which may be skipped.
// https://www.cockroachlabs.com/docs/releases/#major-releases
function nextMajor(version: { year: number; release: number }): { year: number; release: number } {
  const lastOfYear = version.year < 24 ? 2 : version.year === 24 ? 3 : 4;
  return version.release < lastOfYear
    ? { year: version.year, release: version.release + 1 }
    : { year: version.year + 1, release: 1 };
}

function isInnovation(version: { year: number; release: number }): boolean {
  return (version.year === 24 && version.release === 2) || (version.year >= 25 && version.release % 2 === 1);
}

/** The major versions `from` may upgrade to: the next, and the one after when the next is skippable. */
function allowedMajorTargets(from: CockroachVersion): string[] {
  const next = nextMajor(from);
  const targets = [`${next.year}.${next.release}`];
  if (isInnovation(next) && !isInnovation(from)) {
    const after = nextMajor(next);
    targets.push(`${after.year}.${after.release}`);
  }
  return targets;
}

export interface FinalizationStep {
  readonly finalize: boolean;
  readonly message: string;
}

/**
 * Whether to finalize a major upgrade now (RESET CLUSTER SETTING cluster.preserve_downgrade_option): only once
 * every pod runs the new version and is ready, and only when spec.upgrade.finalize is Auto.
 */
export function finalizationStep(input: {
  readonly path: UpgradePath;
  readonly finalize: "Auto" | "Manual";
  readonly rolloutComplete: boolean;
}): FinalizationStep {
  if (input.path.kind !== "major") return { finalize: false, message: "no major upgrade to finalize" };
  if (!input.rolloutComplete)
    return { finalize: false, message: `rolling the nodes to ${input.path.to} before finalizing` };
  if (input.finalize === "Manual") {
    return {
      finalize: false,
      message:
        `every node runs ${input.path.to}; the upgrade awaits finalization (spec.upgrade.finalize: Manual): ` +
        `set it to Auto to finalize, or spec.version back to ${input.path.from} to roll back`,
    };
  }
  return { finalize: true, message: `every node runs ${input.path.to}: finalizing the upgrade` };
}

// ---------------------------------------------------------------------------------------------------------------
// Rolling updates

export interface ObservedPod {
  readonly ordinal: number;
  /** The version the pod runs (its app.kubernetes.io/version label); undefined when unknown. */
  readonly version: string | undefined;
  readonly ready: boolean;
  /** Why the pod is failing, such as "CrashLoopBackOff" or "ImagePullBackOff"; undefined when it is not. */
  readonly failure?: string;
}

export interface RollingStatefulSet {
  readonly name: string;
  readonly replicas: number;
  /** The partition the StatefulSet has now. */
  readonly partition: number;
  /** The version in the StatefulSet's pod template as applied now; the target once the upgrade reached it. */
  readonly templateVersion: string | undefined;
  readonly pods: readonly ObservedPod[];
}

export type RollingUpdateStep = {
  /** Partition per StatefulSet name, for CockroachRenderContext.partitions. */
  readonly partitions: Readonly<Record<string, number>>;
  readonly message: string;
} & (
  | { readonly step: "done" }
  | { readonly step: "roll"; readonly statefulSet: string; readonly ordinal: number }
  | { readonly step: "wait"; readonly reason: "NodeNotReady" | "NodeRestarting" | "RangesUnderReplicated" }
  | {
      readonly step: "halt";
      readonly reason: "NodeFailing";
      readonly statefulSet: string;
      readonly ordinal: number;
    }
);

/**
 * The next move of a rolling upgrade to `targetVersion`, one pod at a time over all StatefulSets (in the order
 * given), each from its highest ordinal down: restart a pod only when every pod is ready and no range is
 * under-replicated; stop when a pod fails. The returned partitions go into the render together with the new
 * template, so the StatefulSet controller never restarts more than the one pod chosen here: StatefulSets not yet
 * reached stay at partition = replicas, and a partition is never raised once the new template is applied (raising
 * it would recreate a pod that is restarting with the old version).
 * https://www.cockroachlabs.com/docs/v26.1/upgrade-cockroachdb-kubernetes
 */
export function rollingUpdateStep(
  targetVersion: string,
  statefulSets: readonly RollingStatefulSet[],
  options: { readonly underReplicatedRanges?: number } = {},
): RollingUpdateStep {
  const hold = (set: RollingStatefulSet) =>
    set.templateVersion === targetVersion ? Math.min(set.partition, set.replicas) : set.replicas;
  const held = Object.fromEntries(statefulSets.map((set) => [set.name, hold(set)]));

  for (const set of statefulSets) {
    for (const pod of [...set.pods].sort((a, b) => b.ordinal - a.ordinal)) {
      if (pod.failure === undefined || pod.ordinal >= set.replicas) continue;
      const runs = pod.version === targetVersion ? ` runs ${targetVersion} but` : "";
      return {
        step: "halt",
        reason: "NodeFailing",
        statefulSet: set.name,
        ordinal: pod.ordinal,
        partitions: held,
        message:
          `pod ${set.name}-${pod.ordinal}${runs} is failing (${pod.failure}); no further node restarts until it ` +
          "recovers. If the new version is at fault, set spec.version back to the previous one",
      };
    }
  }
  for (const set of statefulSets) {
    for (let ordinal = set.replicas - 1; ordinal >= 0; ordinal--) {
      const pod = set.pods.find((p) => p.ordinal === ordinal);
      if (pod?.ready === true) continue;
      return {
        step: "wait",
        reason: pod?.version === targetVersion ? "NodeRestarting" : "NodeNotReady",
        partitions: held,
        message: `waiting for pod ${set.name}-${ordinal} to ${pod === undefined ? "exist" : "become ready"}`,
      };
    }
  }
  const next = nextPodToRoll(targetVersion, statefulSets);
  if (next === undefined) {
    return {
      step: "done",
      partitions: Object.fromEntries(statefulSets.map((set) => [set.name, 0])),
      message: `every node runs ${targetVersion}`,
    };
  }
  if ((options.underReplicatedRanges ?? 0) > 0) {
    return {
      step: "wait",
      reason: "RangesUnderReplicated",
      partitions: held,
      message: `${options.underReplicatedRanges} ranges are under-replicated; the next node restarts once they are not`,
    };
  }
  const index = statefulSets.indexOf(next.set);
  const partitions = Object.fromEntries(
    statefulSets.map((set, i) => [set.name, i < index ? 0 : i === index ? next.ordinal : hold(set)]),
  );
  return {
    step: "roll",
    statefulSet: next.set.name,
    ordinal: next.ordinal,
    partitions,
    message: `restarting pod ${next.set.name}-${next.ordinal} with ${targetVersion}`,
  };
}

/** The highest ordinal of the first StatefulSet that still has a pod on another version. */
function nextPodToRoll(
  targetVersion: string,
  statefulSets: readonly RollingStatefulSet[],
): { set: RollingStatefulSet; ordinal: number } | undefined {
  for (const set of statefulSets) {
    for (let ordinal = set.replicas - 1; ordinal >= 0; ordinal--) {
      const pod = set.pods.find((p) => p.ordinal === ordinal);
      if (pod?.version !== targetVersion) return { set, ordinal };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Scale-down

export type NodeMembership = "active" | "decommissioning" | "decommissioned";

export interface ScaleDownOptions {
  /** Membership of each node ID, from nodeMembershipQuery (src/db/cockroach.ts). */
  readonly membership?: ReadonlyMap<number, NodeMembership>;
  /** The replication factor of the cluster's zone configuration (default 3). */
  readonly replicationFactor?: number;
  /** Nodes the cluster keeps in other regions, which count towards the floor. */
  readonly nodesInOtherRegions?: number;
  /** spec.scaleDown.allowed. */
  readonly allowed?: boolean;
}

export type ScaleDownPlan = {
  /** What StatefulSet replicas to render (CockroachRenderContext.replicas). */
  readonly replicas: number;
  readonly message: string;
} & (
  | { readonly step: "none" }
  | { readonly step: "blocked"; readonly reason: "ScaleDownBlocked" }
  | { readonly step: "refused"; readonly reason: "InvalidSpec" }
  | { readonly step: "observe"; readonly reason: "NodeIdsUnknown"; readonly ordinals: readonly number[] }
  | { readonly step: "decommission"; readonly nodeIds: readonly number[] }
  | { readonly step: "wait"; readonly reason: "Decommissioning"; readonly nodeIds: readonly number[] }
  | { readonly step: "scale" }
);

// Fewer nodes than replicas per range leaves ranges under-replicated; below 3 nodes a cluster cannot survive the
// loss of one. https://www.cockroachlabs.com/docs/v26.1/node-shutdown#size-and-replication-factor
const MINIMUM_SAFE_NODES = 3;

/**
 * The next move of a scale-down from `observedReplicas` to `desiredReplicas` pods of one StatefulSet. The departing
 * pods are the highest ordinals; all of their nodes are decommissioned together (one Job), and replicas are lowered
 * only once each reports decommissioned, so no pod holding data is ever removed. `nodeIdsByOrdinal` maps an
 * ordinal to its node ID, or to null for a pod that never joined the cluster (nothing to decommission).
 * `override` is spec.allowUnsafeNodeCount: without it, the cluster never goes below 3 nodes or the replication
 * factor. https://www.cockroachlabs.com/docs/v26.1/node-shutdown?filters=decommission
 */
export function scaleDownPlan(
  observedReplicas: number,
  desiredReplicas: number,
  nodeIdsByOrdinal: ReadonlyMap<number, number | null>,
  override: boolean,
  options: ScaleDownOptions = {},
): ScaleDownPlan {
  if (desiredReplicas >= observedReplicas)
    return { step: "none", replicas: desiredReplicas, message: "no node to remove" };
  const keep = { replicas: observedReplicas };
  if (options.allowed === false) {
    return {
      ...keep,
      step: "blocked",
      reason: "ScaleDownBlocked",
      message: `lowering the nodes from ${observedReplicas} to ${desiredReplicas} is blocked by spec.scaleDown.allowed: false`,
    };
  }
  const floor = Math.max(MINIMUM_SAFE_NODES, options.replicationFactor ?? MINIMUM_SAFE_NODES);
  const total = desiredReplicas + (options.nodesInOtherRegions ?? 0);
  if (total < 1 || (total < floor && !override)) {
    return {
      ...keep,
      step: "refused",
      reason: "InvalidSpec",
      message:
        total < 1
          ? "spec.nodes: a cluster needs at least one node"
          : `spec.nodes: ${total} nodes are fewer than ${floor} (at least 3, and the replication factor): ranges ` +
            "would be under-replicated and the cluster could not survive losing a node; set " +
            "spec.allowUnsafeNodeCount: true to scale down anyway",
    };
  }

  const departing: number[] = [];
  for (let ordinal = observedReplicas - 1; ordinal >= desiredReplicas; ordinal--) departing.push(ordinal);
  const unknown = departing.filter((ordinal) => !nodeIdsByOrdinal.has(ordinal));
  if (unknown.length > 0) {
    return {
      ...keep,
      step: "observe",
      reason: "NodeIdsUnknown",
      ordinals: unknown,
      message: `the node IDs of departing pods (ordinals ${unknown.join(", ")}) are not known yet`,
    };
  }
  const nodeIds = departing
    .map((ordinal) => nodeIdsByOrdinal.get(ordinal))
    .filter((id): id is number => typeof id === "number")
    .sort((a, b) => a - b);
  const membershipOf = (id: number): NodeMembership | undefined => options.membership?.get(id);
  if (nodeIds.some((id) => membershipOf(id) !== "decommissioning" && membershipOf(id) !== "decommissioned")) {
    return {
      ...keep,
      step: "decommission",
      nodeIds,
      message: `decommissioning nodes ${nodeIds.join(", ")} before removing their pods`,
    };
  }
  const pending = nodeIds.filter((id) => membershipOf(id) !== "decommissioned");
  if (pending.length > 0) {
    return {
      ...keep,
      step: "wait",
      reason: "Decommissioning",
      nodeIds: pending,
      message: `waiting for nodes ${pending.join(", ")} to finish decommissioning (their data moves to other nodes)`,
    };
  }
  return {
    step: "scale",
    replicas: desiredReplicas,
    message:
      nodeIds.length === 0
        ? `removing pods that never joined the cluster: ${observedReplicas} -> ${desiredReplicas} replicas`
        : `nodes ${nodeIds.join(", ")} are decommissioned: ${observedReplicas} -> ${desiredReplicas} replicas`,
  };
}
