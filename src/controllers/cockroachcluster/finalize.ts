// Finalizing a major upgrade: once every node runs the new version and is ready, RESET CLUSTER SETTING
// cluster.preserve_downgrade_option lets CockroachDB run its upgrade migrations; after that there is no way back.
// spec.upgrade.finalize: Manual leaves the cluster unfinalized (and rollback possible) until it is set to Auto.
// status.finalizedVersion is the major version the cluster finalized; a new cluster starts finalized at its own.
// https://www.cockroachlabs.com/docs/v26.1/upgrade-cockroachdb-kubernetes#step-5-finish-the-upgrade
import { resetPreserveDowngradeOption } from "../../db/cockroach.ts";
import {
  finalizationStep,
  majorVersion,
  parseCockroachVersion,
  renderSqlJob,
} from "../../render/cockroach/index.ts";
import type { StepContext, StepOutcome } from "./context.ts";
import { clusterPods, record } from "./context.ts";
import { JOB, type JobObject, jobOutput, jobPhase } from "./kinds.ts";

export type FinalizeOutcome = StepOutcome & {
  readonly finalizedVersion: string | undefined;
  /** True while the upgrade awaits or undergoes finalization (the Upgrading condition stays True). */
  readonly pending: boolean;
  readonly requeueAfterMs?: number;
};

export async function finalizeStep(
  ctx: StepContext,
  state: {
    readonly currentVersion: string | undefined;
    readonly finalizedVersion: string | undefined;
    /** Every node runs currentVersion and is ready. */
    readonly rolloutComplete: boolean;
  },
): Promise<FinalizeOutcome> {
  const parsed = state.currentVersion === undefined ? undefined : parseCockroachVersion(state.currentVersion);
  if (parsed === undefined)
    return {
      finalizedVersion: state.finalizedVersion,
      pending: false,
      reason: "NothingToFinalize",
      message: "no version runs yet",
    };
  const major = majorVersion(parsed);
  const finalized = state.finalizedVersion ?? major;
  if (finalized === major)
    return {
      finalizedVersion: major,
      pending: false,
      reason: "Finalized",
      message: `the cluster version is ${major}`,
    };

  const decision = finalizationStep({
    path: {
      kind: "major",
      from: `v${finalized}`,
      to: state.currentVersion ?? "",
      preserveDowngradeOption: finalized,
      skipped: undefined,
    },
    finalize: ctx.cluster.spec.upgrade.finalize,
    rolloutComplete: state.rolloutComplete,
  });
  const waiting = (reason: string, message: string, requeueAfterMs?: number): FinalizeOutcome => ({
    finalizedVersion: finalized,
    pending: true,
    reason,
    message,
    requeueAfterMs,
  });
  if (!decision.finalize)
    return waiting(
      state.rolloutComplete ? "AwaitingFinalization" : "WaitingForNodes",
      decision.message,
      state.rolloutComplete ? undefined : 2_000,
    );

  const desired = renderSqlJob(
    ctx.cluster,
    `finalize-${major.replace(".", "-")}`,
    [resetPreserveDowngradeOption()],
    ctx.render,
  );
  const name = desired.metadata?.name ?? "";
  const job = ctx.cache.get<JobObject>(JOB, desired.metadata?.namespace, name);
  if (job === undefined) {
    await ctx.client.apply(desired);
    await record(ctx, {
      type: "Normal",
      reason: "Finalizing",
      action: "Finalize",
      note: `every node runs ${state.currentVersion}: Job ${name} resets cluster.preserve_downgrade_option`,
    });
    return waiting("Finalizing", `Job ${name} finalizes the upgrade to ${major}`, 2_000);
  }
  switch (jobPhase(job)) {
    case "running":
      return waiting("Finalizing", `Job ${name} finalizes the upgrade to ${major}`, 2_000);
    case "failed":
      return waiting(
        "FinalizeFailed",
        `Job ${name} failed: ${jobOutput(job, clusterPods(ctx)) ?? "no output"}. Delete the Job to try again`,
        30_000,
      );
    case "succeeded":
      await record(ctx, {
        type: "Normal",
        reason: "UpgradeFinalized",
        action: "Finalize",
        note: `the upgrade to ${state.currentVersion} is finalized: the cluster version is now ${major}`,
      });
      return {
        finalizedVersion: major,
        pending: false,
        reason: "Finalized",
        message: `the cluster version is ${major}`,
      };
  }
}
