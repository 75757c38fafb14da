// Applying what render/cockroach produced, in its order, with server-side apply, and only what differs from the
// cached live object (zero writes at steady state). Jobs are created once and never updated: their pod template is
// immutable and each is named after what it does.
import { remoteClusterOf } from "../../render/cockroach/index.ts";
import type { KubeObject, ResourceType } from "../../runtime/kube.ts";
import { needsApply } from "../../runtime/status.ts";
import type { StepContext } from "./context.ts";
import { RENDERED_KINDS } from "./kinds.ts";

export async function applyChildren(ctx: StepContext, objects: readonly KubeObject[]): Promise<number> {
  let written = 0;
  for (const desired of objects) {
    // Regions in other Kubernetes clusters are not run by this version of the controller.
    if (remoteClusterOf(desired) !== undefined) continue;
    const type = typeOf(desired);
    const live = ctx.cache.get(type, desired.metadata?.namespace, desired.metadata?.name ?? "");
    if (desired.kind === "Job" ? live !== undefined : !needsApply(desired, live)) continue;
    await ctx.client.apply(desired);
    written++;
  }
  return written;
}

function typeOf(obj: KubeObject): ResourceType {
  const type = RENDERED_KINDS.find((t) => t.apiVersion === obj.apiVersion && t.kind === obj.kind);
  if (type === undefined)
    throw new Error(`render produced a ${obj.apiVersion} ${obj.kind}, which the controller does not watch`);
  return type;
}
