// Scaling: raising replicas is just a render with more of them. Lowering them is not: the departing nodes (the
// highest ordinals) are decommissioned together in one Job (`cockroach node decommission --wait=all`), the cluster
// is then asked whether each reports decommissioned, and only then are the replicas lowered. A pod is never
// removed while its node holds data. The decommission Job is the record that survives an operator restart; it
// carries the ordinals it works for, so a restarted operator knows which scale-down it belongs to.
// https://www.cockroachlabs.com/docs/v26.1/node-shutdown?filters=decommission

import { GROUP } from "../../api/group.ts";
import { parseDuration } from "../../api/index.ts";
import { ANNOTATION, LABEL, renderDecommissionJob, scaleDownPlan } from "../../render/cockroach/index.ts";
import type { StepContext, StepOutcome } from "./context.ts";
import { clusterPods, record } from "./context.ts";
import { JOB, type JobObject, jobOutput, jobPhase } from "./kinds.ts";
import { askNodeTable, type ObservedStatefulSet } from "./nodes.ts";

/** On a decommission Job: the pod ordinals whose nodes it decommissions, highest first ("4,3"). */
export const DEPARTING_ORDINALS = `${GROUP}/departing-ordinals`;

export type ScaleOutcome = StepOutcome & {
  /** Replicas to render for the StatefulSet. */
  readonly replicas: number;
  /** True while a scale-down is under way or held back (the ScalingDown condition). */
  readonly scalingDown: boolean;
  /** When to look again (a Job or the cluster is being waited for). */
  readonly requeueAfterMs?: number;
};

export async function scaleStep(
  ctx: StepContext,
  sts: ObservedStatefulSet,
  initialized: boolean,
): Promise<ScaleOutcome> {
  const desired = sts.placement.nodes;
  const live = sts.live?.spec?.replicas;
  const name = sts.placement.statefulSet;
  if (live === undefined || desired >= live) {
    await deleteFinishedDecommissionJobs(ctx);
    if (live !== undefined && desired > live)
      await record(ctx, {
        type: "Normal",
        reason: "ScaledUp",
        action: "Scale",
        note: `StatefulSet ${name}: ${live} -> ${desired} nodes`,
      });
    return { replicas: desired, scalingDown: false, reason: "NoScaleDown", message: `${desired} nodes` };
  }

  const override = ctx.cluster.spec.allowUnsafeNodeCount;
  const options = { allowed: ctx.cluster.spec.scaleDown.allowed };
  // Whether the scale-down may happen at all does not depend on the node table.
  const gate = scaleDownPlan(live, desired, new Map(), override, options);
  if (gate.step === "blocked" || gate.step === "refused")
    return { replicas: live, scalingDown: true, reason: gate.reason, message: gate.message };

  const departing: number[] = [];
  for (let ordinal = live - 1; ordinal >= desired; ordinal--) departing.push(ordinal);
  if (!initialized) {
    // Nodes of a cluster that was never initialized hold no data: nothing to decommission.
    return lowered(ctx, sts, live, desired, "the cluster was never initialized, so no node holds data");
  }

  const job = decommissionJobFor(ctx, departing);
  if (job !== undefined) {
    const phase = jobPhase(job);
    const jobName = job.metadata?.name;
    if (phase === "failed") {
      return {
        replicas: live,
        scalingDown: true,
        reason: "DecommissionFailed",
        message: `Job ${jobName} failed: ${jobOutput(job, clusterPods(ctx)) ?? "no output"}. The pods stay; delete the Job to try again`,
      };
    }
    if (phase === "running") {
      const started = Date.parse(job.metadata?.creationTimestamp ?? "") || ctx.now.getTime();
      const timeout = parseDuration(ctx.cluster.spec.scaleDown.decommissionTimeout) ?? 2 * 3600_000;
      const stalled = ctx.now.getTime() - started > timeout;
      return {
        replicas: live,
        scalingDown: true,
        reason: stalled ? "Stalled" : "Decommissioning",
        message: stalled
          ? `Job ${jobName} has been decommissioning nodes ${job.metadata?.annotations?.[ANNOTATION.nodeIds]} for longer than spec.scaleDown.decommissionTimeout; still waiting, the pods stay`
          : `Job ${jobName} decommissions the nodes of pods ${departing.map((o) => `${name}-${o}`).join(", ")}`,
        requeueAfterMs: 10_000,
      };
    }
  }

  // No Job yet (find the node IDs), or the Job reports success: confirm every node reports decommissioned.
  const answer = await askNodeTable(ctx, name);
  if (answer.state !== "answered" || answer.table === undefined) {
    return {
      replicas: live,
      scalingDown: true,
      reason: answer.state === "failed" ? "NodeStatusUnavailable" : "ReadingNodeStatus",
      message: answer.state === "answered" ? "no node table" : answer.message,
      requeueAfterMs: answer.state === "failed" ? 5_000 : 2_000,
    };
  }
  // A departing pod the table does not list never joined: nothing to decommission (null). Unless it is ready: a
  // ready node serves, so it joined and its address did not match; its ID stays unknown and the plan waits rather
  // than remove a node that may hold data.
  const ids = new Map<number, number | null>();
  for (const ordinal of departing) {
    const id = answer.table.idsByOrdinal.get(ordinal);
    if (id !== undefined) ids.set(ordinal, id);
    else if (!sts.pods.some((p) => p.ordinal === ordinal && p.ready)) ids.set(ordinal, null);
  }
  const plan = scaleDownPlan(live, desired, ids, override, {
    ...options,
    membership: answer.table.membership,
  });
  switch (plan.step) {
    case "decommission": {
      if (job === undefined) {
        const desiredJob = renderDecommissionJob(ctx.cluster, plan.nodeIds, ctx.render);
        desiredJob.metadata = {
          ...desiredJob.metadata,
          annotations: { ...desiredJob.metadata?.annotations, [DEPARTING_ORDINALS]: departing.join(",") },
        };
        await ctx.client.apply(desiredJob);
        await record(ctx, {
          type: "Normal",
          reason: "DecommissionStarted",
          action: "Decommission",
          note: `decommissioning nodes ${plan.nodeIds.join(", ")} (pods ${departing.map((o) => `${name}-${o}`).join(", ")}) before lowering replicas ${live} -> ${desired}`,
        });
      }
      // A Job that succeeded while the table still lists a node as active: the table lags; ask again.
      return {
        replicas: live,
        scalingDown: true,
        reason: "Decommissioning",
        message: plan.message,
        requeueAfterMs: 3_000,
      };
    }
    case "wait":
      return {
        replicas: live,
        scalingDown: true,
        reason: plan.reason,
        message: plan.message,
        requeueAfterMs: 3_000,
      };
    case "scale":
      return lowered(ctx, sts, live, desired, plan.message);
    case "observe":
      return {
        replicas: live,
        scalingDown: true,
        reason: "ReadingNodeStatus",
        message: plan.message,
        requeueAfterMs: 2_000,
      };
    case "none":
    case "blocked":
    case "refused":
      // Decided by the gate above already; kept so every step of the plan has an answer here.
      return {
        replicas: plan.replicas,
        scalingDown: plan.step !== "none",
        reason: plan.step,
        message: plan.message,
      };
  }
}

async function lowered(
  ctx: StepContext,
  sts: ObservedStatefulSet,
  live: number,
  desired: number,
  why: string,
): Promise<ScaleOutcome> {
  const name = sts.placement.statefulSet;
  await record(ctx, {
    type: "Normal",
    reason: "ScaledDown",
    action: "Scale",
    note: `StatefulSet ${name}: ${why}`,
  });
  const claims = [];
  for (let ordinal = desired; ordinal < live; ordinal++) claims.push(`datadir-${name}-${ordinal}`);
  const retain = ctx.cluster.spec.storage.retainPolicy === "Retain";
  await record(ctx, {
    type: "Normal",
    reason: retain ? "VolumesKept" : "VolumesDeleted",
    action: "Scale",
    note: retain
      ? `PersistentVolumeClaims ${claims.join(", ")} of the removed nodes are kept (storage.retainPolicy: Retain)`
      : `PersistentVolumeClaims ${claims.join(", ")} of the removed nodes are deleted (storage.retainPolicy: Delete)`,
  });
  return { replicas: desired, scalingDown: false, reason: "ScaledDown", message: why };
}

function decommissionJobs(ctx: StepContext): JobObject[] {
  return ctx.cache
    .list<JobObject>(JOB, ctx.cluster.metadata.namespace, {
      [LABEL.cluster]: ctx.cluster.metadata.name ?? "",
      [LABEL.component]: "decommission",
    })
    .filter((job) => !job.metadata?.deletionTimestamp);
}

function decommissionJobFor(ctx: StepContext, departing: readonly number[]): JobObject | undefined {
  return decommissionJobs(ctx).find(
    (job) => job.metadata?.annotations?.[DEPARTING_ORDINALS] === departing.join(","),
  );
}

/**
 * Once the replicas are lowered, a finished decommission Job has done its work. It goes, so that a later
 * scale-down of the same ordinals (new nodes, new IDs) is not mistaken for this one.
 */
async function deleteFinishedDecommissionJobs(ctx: StepContext): Promise<void> {
  for (const job of decommissionJobs(ctx)) {
    if (jobPhase(job) === "succeeded")
      await ctx.client.delete(JOB, job.metadata?.namespace, job.metadata?.name ?? "", {
        propagationPolicy: "Background",
      });
  }
}
