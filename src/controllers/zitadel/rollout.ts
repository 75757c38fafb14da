// The rollout step: apply what render says, in its order, writing only what differs from the cache (zero
// writes at steady state). Two rules on top of render:
// - The setup Job is created once and never applied again: a Job's pod template is immutable, and a Job that
//   exists (running, failed or done) is the record of that migration.
// - While setup for the target has not succeeded, a Deployment that exists is held as it is. Render would keep
//   its version, but other edits arriving with the upgrade (a new image repository, configuration) would roll
//   the old version's pods; migrations gate every change of the pods, so nothing rolls until setup succeeded.
//   Except while a Restore holds the Zitadel (hold.ts): then the Deployments are applied at 0 replicas even
//   before setup succeeded. With no pod left nothing rolls onto the un-migrated configuration, and a hold that
//   begins mid-upgrade must still stop every pod. Once released they are held at 0 until setup succeeded.

import { LABEL } from "../../render/zitadel/meta.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { needsApply } from "../../runtime/status.ts";
import { type StepContext, TYPES } from "./types.ts";

export interface RolloutResult {
  readonly applied: string[];
  /** Deployments left as they are until setup succeeds. */
  readonly held: string[];
}

export async function applyObjects(
  step: StepContext,
  objects: readonly KubeObject[],
  targetMigrated: boolean,
  restoreHold = false,
): Promise<RolloutResult> {
  const applied: string[] = [];
  const held: string[] = [];
  for (const desired of objects) {
    const name = desired.metadata?.name ?? "";
    const type = await step.client.resourceType(desired.apiVersion ?? "", desired.kind ?? "");
    const live = step.cached<KubeObject>(type, name);
    if (desired.kind === "Job" && live !== undefined) continue;
    if (desired.kind === "Deployment" && live !== undefined && !targetMigrated && !restoreHold) {
      if (needsApply(desired, live)) held.push(name);
      continue;
    }
    if (!needsApply(desired, live)) continue;
    await step.client.apply(desired);
    applied.push(`${desired.kind} ${name}`);
    await step.events.record(step.object, event(desired, live));
  }
  return { applied, held };
}

function event(desired: KubeObject, live: KubeObject | undefined) {
  const what = `${desired.kind} ${desired.metadata?.name}`;
  if (desired.kind === "Job") {
    return {
      type: "Normal" as const,
      reason: "SetupStarted",
      action: "Migrate",
      note: `created ${what} to run zitadel init and setup for ${desired.metadata?.labels?.[LABEL.version]}`,
    };
  }
  if (desired.kind === "Deployment") {
    const from = live?.metadata?.labels?.[LABEL.version];
    const to = desired.metadata?.labels?.[LABEL.version];
    return {
      type: "Normal" as const,
      reason: live === undefined ? "DeploymentCreated" : "RolloutStarted",
      action: "Rollout",
      note:
        live === undefined
          ? `created ${what} running ${to}`
          : from !== to
            ? `${what} moves from ${from} to ${to}`
            : `updated ${what} (${to}): its configuration or settings changed`,
    };
  }
  return {
    type: "Normal" as const,
    reason: live === undefined ? "Created" : "Updated",
    action: "Apply",
    note: `${live === undefined ? "created" : "updated"} ${what}`,
  };
}

export type DeploymentObject = KubeObject & {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
  };
};

/** The ZITADEL Deployment as the cache has it, and whether its rollout is complete. */
export function deploymentState(step: StepContext, name: string) {
  const deployment = step.cached<DeploymentObject>(TYPES.deployment, name);
  if (deployment === undefined) return undefined;
  const want = deployment.spec?.replicas ?? 1;
  const s = deployment.status ?? {};
  const complete =
    (s.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) >= want &&
    (s.replicas ?? 0) === want &&
    (s.availableReplicas ?? 0) >= want;
  return {
    deployment,
    version: deployment.metadata?.labels?.[LABEL.version],
    complete,
    replicas: s.replicas ?? 0,
    readyReplicas: s.readyReplicas ?? 0,
    want,
  };
}
