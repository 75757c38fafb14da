// What every step of the CockroachCluster reconcile works with: the parsed cluster, the API client, the
// controller's cache (reads come from there, never from the API server directly), Events, and the time.
import type { CockroachCluster } from "../../api/index.ts";
import type { CockroachRenderContext } from "../../render/cockroach/index.ts";
import { LABEL } from "../../render/cockroach/meta.ts";
import type { EventInput, EventRecorder } from "../../runtime/events.ts";
import type { KubeClient, KubeObject, ResourceType } from "../../runtime/kube.ts";
import { POD, type PodObject } from "./kinds.ts";

export interface Cache {
  get<O extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): O | undefined;
  list<O extends KubeObject>(type: ResourceType, namespace?: string, labels?: Record<string, string>): O[];
}

export interface StepContext {
  readonly cluster: CockroachCluster;
  /** The object as read from the API server (for Events: it has the uid and resourceVersion). */
  readonly object: KubeObject;
  readonly client: KubeClient;
  readonly cache: Cache;
  readonly events: EventRecorder;
  readonly render: CockroachRenderContext;
  readonly now: Date;
}

/** What a step reports, ready for a condition. */
export interface StepOutcome {
  readonly reason: string;
  readonly message: string;
}

export function record(ctx: StepContext, input: EventInput): Promise<boolean> {
  return ctx.events.record(ctx.object, input);
}

/** Every pod of the cluster in this namespace: node pods and Job pods (they carry the cluster label). */
export function clusterPods(ctx: StepContext): PodObject[] {
  return ctx.cache.list<PodObject>(POD, ctx.cluster.metadata.namespace, {
    [LABEL.cluster]: ctx.cluster.metadata.name ?? "",
  });
}
