// Version upgrades: check the jump (upgradePath), hold finalization of a major upgrade with
// cluster.preserve_downgrade_option, then roll one pod at a time from the highest ordinal through the
// StatefulSet's RollingUpdate partition (rollingUpdateStep), each restart only when every pod is ready and no range
// is under-replicated; finalizing comes after (finalize.ts). Everything that says where an upgrade stands lives in
// the cluster: status.currentVersion (the version being left until the roll is done), the StatefulSet's template and
// partition, the pods' version labels, and the preserve Job. https://www.cockroachlabs.com/docs/v26.1/upgrade-cockroachdb-kubernetes
import { setPreserveDowngradeOption } from "../../db/cockroach.ts";
import {
  LABEL,
  type RollingStatefulSet,
  renderSqlJob,
  rollingUpdateStep,
  type UpgradePath,
} from "../../render/cockroach/index.ts";
import type { StepContext, StepOutcome } from "./context.ts";
import { clusterPods, record } from "./context.ts";
import { JOB, type JobObject, jobOutput, jobPhase } from "./kinds.ts";
import { askUnderReplicatedRanges, type ObservedStatefulSet } from "./nodes.ts";

export type UpgradeOutcome = StepOutcome & {
  /** RollingUpdate partitions to render; undefined when no upgrade steers them (0: the StatefulSet rolls freely). */
  readonly partitions: Record<string, number> | undefined;
  /** Whether a roll is under way (the Upgrading condition). */
  readonly upgrading: boolean;
  /** The version every node runs after this step: the target once the last pod rolled. */
  readonly currentVersion: string | undefined;
  readonly requeueAfterMs?: number;
};

export async function upgradeStep(
  ctx: StepContext,
  path: UpgradePath,
  sts: ObservedStatefulSet,
  state: { readonly currentVersion: string | undefined; readonly scalingDown: boolean },
): Promise<UpgradeOutcome> {
  const target = ctx.cluster.spec.version;
  if (path.kind === "unchanged" || path.kind === "refused") {
    return {
      partitions: undefined,
      upgrading: false,
      currentVersion: state.currentVersion,
      reason: "UpToDate",
      message:
        state.currentVersion === undefined ? "no node runs yet" : `every node runs ${state.currentVersion}`,
    };
  }
  const name = sts.placement.statefulSet;
  const rolling: RollingStatefulSet = {
    name,
    replicas: sts.live?.spec?.replicas ?? sts.placement.nodes,
    partition: sts.live?.spec?.updateStrategy?.rollingUpdate?.partition ?? 0,
    templateVersion: sts.live?.spec?.template?.metadata?.labels?.[LABEL.version],
    pods: sts.pods,
  };
  // Restarting nothing: the new template may be applied, but with the partition above every pod.
  const hold = rollingUpdateStep(target, [rolling], { underReplicatedRanges: 1 }).partitions;
  const holding = (reason: string, message: string, requeueAfterMs = 2_000): UpgradeOutcome => ({
    partitions: { ...hold },
    upgrading: true,
    currentVersion: state.currentVersion,
    reason,
    message,
    requeueAfterMs,
  });
  if (state.scalingDown)
    return holding("WaitingForScaleDown", `the upgrade to ${target} waits for the scale-down`);

  if (path.kind === "major") {
    const preserved = await preserveDowngradeOption(ctx, path.preserveDowngradeOption);
    if (preserved !== undefined) return holding(preserved.reason, preserved.message);
  }

  const step = rollingUpdateStep(target, [rolling]);
  switch (step.step) {
    case "done":
      await record(ctx, {
        type: "Normal",
        reason: "UpgradeRolled",
        action: "Upgrade",
        note: `every node of StatefulSet ${name} runs ${target}`,
      });
      return {
        partitions: { ...step.partitions },
        upgrading: false,
        currentVersion: target,
        reason: "Rolled",
        message: step.message,
      };
    case "wait":
      return holding(step.reason, step.message);
    case "halt":
      await record(ctx, { type: "Warning", reason: step.reason, action: "Upgrade", note: step.message });
      return holding(step.reason, step.message, 10_000);
    case "roll": {
      const partition = step.partitions[name] ?? 0;
      // This pod was already released; the StatefulSet controller is restarting it.
      if (rolling.templateVersion === target && rolling.partition === partition)
        return { ...holding("NodeRestarting", step.message), partitions: { ...step.partitions } };
      const health = await askUnderReplicatedRanges(ctx);
      if (health.state === "pending") return holding("CheckingReplication", health.message);
      if (health.state === "failed") return holding("ReplicationUnknown", health.message, 5_000);
      const checked = rollingUpdateStep(target, [rolling], { underReplicatedRanges: health.ranges ?? 0 });
      if (checked.step !== "roll")
        return holding(checked.step === "wait" ? checked.reason : "Waiting", checked.message);
      await record(ctx, {
        type: "Normal",
        reason: "NodeRestarting",
        action: "Upgrade",
        note: checked.message,
      });
      return {
        partitions: { ...checked.partitions },
        upgrading: true,
        currentVersion: state.currentVersion,
        reason: "RollingNode",
        message: checked.message,
        requeueAfterMs: 2_000,
      };
    }
  }
}

/**
 * SET CLUSTER SETTING cluster.preserve_downgrade_option before the first pod of a major upgrade restarts, so the
 * new version does not finalize by itself. Undefined once the setting is made; the Job stays as the record.
 */
async function preserveDowngradeOption(ctx: StepContext, major: string): Promise<StepOutcome | undefined> {
  const desired = renderSqlJob(
    ctx.cluster,
    `preserve-${major.replace(".", "-")}`,
    [setPreserveDowngradeOption(major)],
    ctx.render,
  );
  const name = desired.metadata?.name ?? "";
  const job = ctx.cache.get<JobObject>(JOB, desired.metadata?.namespace, name);
  if (job === undefined) {
    await ctx.client.apply(desired);
    await record(ctx, {
      type: "Normal",
      reason: "PreservingDowngrade",
      action: "Upgrade",
      note: `Job ${name} sets cluster.preserve_downgrade_option to ${major}, so the major upgrade waits for finalization`,
    });
    return {
      reason: "PreservingDowngrade",
      message: `Job ${name} sets cluster.preserve_downgrade_option to ${major}`,
    };
  }
  switch (jobPhase(job)) {
    case "succeeded":
      return undefined;
    case "running":
      return {
        reason: "PreservingDowngrade",
        message: `Job ${name} sets cluster.preserve_downgrade_option to ${major}`,
      };
    case "failed":
      return {
        reason: "PreserveDowngradeFailed",
        message: `Job ${name} could not set cluster.preserve_downgrade_option: ${jobOutput(job, clusterPods(ctx)) ?? "no output"}; no node restarts. Delete the Job to try again`,
      };
  }
}
