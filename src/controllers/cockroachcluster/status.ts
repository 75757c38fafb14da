// The status the lifecycle steps add up to: Initialized, Available, Upgrading, ScalingDown and Ready conditions,
// node counts and versions. Ready names the first thing that keeps the cluster from being ready, in words.
import type { Condition } from "../../api/conditions.ts";
import { type ConditionInput, setCondition } from "../../runtime/status.ts";
import type { FinalizeOutcome } from "./finalize.ts";
import type { InitOutcome } from "./init.ts";
import type { ScaleOutcome } from "./scale.ts";
import type { UpgradeOutcome } from "./upgrade.ts";

export interface Lifecycle {
  readonly desiredNodes: number;
  readonly nodes: number;
  readonly readyNodes: number;
  /** The version every node runs (status.currentVersion); undefined before init. */
  readonly currentVersion: string | undefined;
  readonly init: InitOutcome;
  readonly scale: ScaleOutcome;
  readonly upgrade: UpgradeOutcome;
  readonly finalize: FinalizeOutcome;
}

export function lifecycleConditions(
  conditions: readonly Condition[] | undefined,
  l: Lifecycle,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const quorum = Math.floor(l.desiredNodes / 2) + 1;
  const inputs: ConditionInput[] = [
    {
      type: "Initialized",
      status: l.init.initialized ? "True" : "False",
      reason: l.init.reason,
      message: l.init.message,
    },
    l.init.initialized && l.readyNodes >= quorum
      ? {
          type: "Available",
          status: "True",
          reason: "QuorumReady",
          message: `${l.readyNodes} of ${l.desiredNodes} nodes are ready`,
        }
      : {
          type: "Available",
          status: "False",
          reason: l.init.initialized ? "NoQuorum" : "NotInitialized",
          message: l.init.initialized
            ? `${l.readyNodes} of ${l.desiredNodes} nodes are ready; ${quorum} are needed to serve`
            : "the cluster is not initialized yet",
        },
    l.upgrade.upgrading
      ? { type: "Upgrading", status: "True", reason: l.upgrade.reason, message: l.upgrade.message }
      : l.finalize.pending
        ? { type: "Upgrading", status: "True", reason: l.finalize.reason, message: l.finalize.message }
        : {
            type: "Upgrading",
            status: "False",
            reason: "UpToDate",
            message:
              l.currentVersion === undefined
                ? "no node runs yet"
                : `every node runs ${l.currentVersion}; ${l.finalize.message}`,
          },
    l.scale.scalingDown
      ? { type: "ScalingDown", status: "True", reason: l.scale.reason, message: l.scale.message }
      : { type: "ScalingDown", status: "False", reason: "NoScaleDown", message: l.scale.message },
    ready(l),
  ];
  let next = [...(conditions ?? [])];
  for (const input of inputs) next = setCondition(next, input, generation, now);
  return next;
}

function ready(l: Lifecycle): ConditionInput {
  const notReady = (reason: string, message: string): ConditionInput => ({
    type: "Ready",
    status: "False",
    reason,
    message,
  });
  if (!l.init.initialized) return notReady(l.init.reason, l.init.message);
  if (l.scale.scalingDown) return notReady(l.scale.reason, l.scale.message);
  if (l.upgrade.upgrading) return notReady(l.upgrade.reason, l.upgrade.message);
  if (l.readyNodes < l.desiredNodes || l.nodes !== l.desiredNodes)
    return notReady("NodesNotReady", `${l.readyNodes} of ${l.desiredNodes} nodes are ready`);
  if (l.finalize.pending && l.finalize.reason !== "AwaitingFinalization")
    return notReady(l.finalize.reason, l.finalize.message);
  return {
    type: "Ready",
    status: "True",
    reason: "Ready",
    message: `${l.readyNodes} nodes are ready${l.finalize.pending ? `; ${l.finalize.message}` : ""}`,
  };
}
