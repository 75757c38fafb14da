// `cockroach init`, once per cluster, as a reconcile step rather than a Helm-style hook: the init Job is applied
// right after the StatefulSet, without waiting for ready pods (a GitOps tool or `--wait` waiting for ready pods never blocks it, because nodes
// of an uninitialized cluster are never ready), and it targets pod 0, which is in every node's --join list.
// status.initialized records the success; from then on the Job is no longer applied. The Job treats "already
// initialized" as success, so a run repeated after a crash between the Job's success and the status write is
// harmless. https://www.cockroachlabs.com/docs/v26.1/cockroach-init
import { renderInitJob } from "../../render/cockroach/index.ts";
import type { StepContext, StepOutcome } from "./context.ts";
import { clusterPods, record } from "./context.ts";
import { JOB, type JobObject, jobOutput, jobPhase } from "./kinds.ts";

export type InitOutcome = StepOutcome & { readonly initialized: boolean; readonly failed?: boolean };

/** Starts the init Job (after the StatefulSet is applied), reads it, and says whether the cluster is initialized. */
export async function initStep(ctx: StepContext, initializedBefore: boolean): Promise<InitOutcome> {
  if (initializedBefore)
    return { initialized: true, reason: "Initialized", message: "cockroach init has completed" };
  const desired = renderInitJob(ctx.cluster, ctx.render);
  const name = desired.metadata?.name ?? "";
  const job = ctx.cache.get<JobObject>(JOB, desired.metadata?.namespace, name);
  if (job === undefined) {
    await ctx.client.apply(desired);
    await record(ctx, {
      type: "Normal",
      reason: "InitStarted",
      action: "Init",
      note: `started Job ${name}: cockroach init against pod 0, which every node joins`,
    });
    return { initialized: false, reason: "InitRunning", message: `Job ${name} runs cockroach init` };
  }
  switch (jobPhase(job)) {
    case "running":
      return { initialized: false, reason: "InitRunning", message: `Job ${name} runs cockroach init` };
    case "failed": {
      const output = jobOutput(job, clusterPods(ctx)) ?? "no output";
      return {
        initialized: false,
        failed: true,
        reason: "InitFailed",
        message: `Job ${name} failed: ${output}. Delete the Job to try again once the cause is fixed`,
      };
    }
    case "succeeded":
      await record(ctx, {
        type: "Normal",
        reason: "InitSucceeded",
        action: "Init",
        note: `Job ${name} initialized the cluster (or found it already initialized)`,
      });
      return { initialized: true, reason: "Initialized", message: "cockroach init has completed" };
  }
}
