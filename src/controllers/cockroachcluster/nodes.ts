// What the node pods say (existence, readiness, version, failures) and what the cluster says about its nodes
// (node IDs, membership, under-replicated ranges), the latter through SQL Jobs (query.ts).
import { nodeMembershipQuery, parseNodeMembership, replicationHealthQuery } from "../../db/cockroach.ts";
import {
  LABEL,
  type NodeMembership,
  type ObservedPod,
  type Placement,
  placements,
} from "../../render/cockroach/index.ts";
import { DATABASE_COMPONENT } from "../../render/cockroach/meta.ts";
import { clusterPods, type StepContext } from "./context.ts";
import { type PodObject, podFailure, podReady, STATEFULSET, type StatefulSetObject } from "./kinds.ts";
import { type Answer, ask } from "./query.ts";

export interface ObservedStatefulSet {
  readonly placement: Placement;
  /** The live StatefulSet from the cache; undefined before the first apply. */
  readonly live: StatefulSetObject | undefined;
  readonly pods: readonly ObservedPod[];
}

/** Each StatefulSet of the cluster with its node pods, in spec order. */
export function observeStatefulSets(ctx: StepContext): ObservedStatefulSet[] {
  const nodePods = clusterPods(ctx).filter(
    (p) => p.metadata?.labels?.[LABEL.component] === DATABASE_COMPONENT,
  );
  return placements(ctx.cluster, ctx.render)
    .filter((p) => p.remoteCluster === undefined)
    .map((placement) => ({
      placement,
      live: ctx.cache.get<StatefulSetObject>(STATEFULSET, placement.namespace, placement.statefulSet),
      pods: nodePods.flatMap((pod) => observedPod(pod, placement.statefulSet)),
    }));
}

function observedPod(pod: PodObject, statefulSet: string): ObservedPod[] {
  const ordinal = ordinalOf(pod.metadata?.name ?? "", statefulSet);
  if (ordinal === undefined || pod.metadata?.deletionTimestamp) return [];
  return [
    {
      ordinal,
      version: pod.metadata?.labels?.[LABEL.version],
      ready: podReady(pod),
      failure: podFailure(pod),
    },
  ];
}

/** 3 for "db-3" of StatefulSet "db"; undefined for anything else. */
export function ordinalOf(podName: string, statefulSet: string): number | undefined {
  if (!podName.startsWith(`${statefulSet}-`)) return undefined;
  const rest = podName.slice(statefulSet.length + 1);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

export interface NodeTable {
  /** Node ID per pod ordinal of one StatefulSet, from the address each node advertises (<pod>.<sts>.<ns>...). */
  readonly idsByOrdinal: Map<number, number>;
  readonly membership: Map<number, NodeMembership>;
}

/** `cockroach node status --decommission`, as SQL: which node is which pod, and who is leaving. */
export async function askNodeTable(
  ctx: StepContext,
  statefulSet: string,
): Promise<Answer & { table?: NodeTable }> {
  const answer = await ask(ctx, "node-status", [nodeMembershipQuery()], (csv) => {
    const { rows, problems } = parseNodeMembership(csv);
    if (problems.length > 0) return problems.join("; ");
    return rows.length === 0 ? "no nodes listed" : undefined;
  });
  if (answer.state !== "answered") return answer;
  const idsByOrdinal = new Map<number, number>();
  const membership = new Map<number, NodeMembership>();
  for (const row of parseNodeMembership(answer.output).rows) {
    membership.set(row.nodeId, row.membership);
    const ordinal = ordinalOf(row.address.split(".")[0] ?? "", statefulSet);
    // A pod's later incarnations after a decommission would get new IDs; the newest (highest) active one counts.
    if (ordinal !== undefined && (row.membership === "active" || !idsByOrdinal.has(ordinal)))
      idsByOrdinal.set(ordinal, row.nodeId);
  }
  return { ...answer, table: { idsByOrdinal, membership } };
}

/** Ranges with fewer replicas than they should have; checked before every node restart of a rolling upgrade. */
export async function askUnderReplicatedRanges(ctx: StepContext): Promise<Answer & { ranges?: number }> {
  const parse = (csv: string) => {
    const [header, values] = csv.trim().split(/\r?\n/);
    const index = header?.split(",").indexOf("under_replicated") ?? -1;
    const value = Number(values?.split(",")[index]);
    return index < 0 || !Number.isInteger(value) ? { problem: `unexpected answer: ${csv}` } : { value };
  };
  const answer = await ask(ctx, "replication", [replicationHealthQuery()], (csv) => parse(csv).problem);
  if (answer.state !== "answered") return answer;
  return { ...answer, ranges: parse(answer.output).value ?? 0 };
}
