// The reconciler for kinds whose controller has not landed yet: it validates the spec (so users see their
// mistakes now) and otherwise says plainly, in the Ready condition, that nothing acts on the object yet.
// Each kind's real controller replaces this one in src/controllers/index.ts.
import type { KindName } from "../api/index.ts";
import { API_VERSION } from "../api/index.ts";
import { Controller } from "../runtime/controller.ts";
import type { EventRecorder } from "../runtime/events.ts";
import type { KubeClient, ResourceType } from "../runtime/kube.ts";
import type { Logger } from "../runtime/log.ts";
import { operatorMetrics } from "../runtime/metrics.ts";
import { applyStatus, setCondition } from "../runtime/status.ts";
import { validSpecOrReport, type WithStatus } from "./spec.ts";

export const AWAITING_CONTROLLER = "AwaitingController";

export function pendingController(opts: {
  kind: KindName;
  type: ResourceType;
  client: KubeClient;
  events: EventRecorder;
  log: Logger;
  namespaces?: string[];
  concurrency?: number;
}): Controller<WithStatus> {
  return new Controller<WithStatus>({
    name: opts.kind.toLowerCase(),
    client: opts.client,
    log: opts.log,
    for: opts.type,
    namespaces: opts.namespaces,
    concurrency: opts.concurrency,
    metrics: operatorMetrics.queueMetrics(opts.kind.toLowerCase()),
    reconcile: async ({ object }) => {
      if (!object || object.metadata?.deletionTimestamp) return undefined;
      const resource = await validSpecOrReport(opts.client, opts.events, object);
      if (!resource) return undefined;
      await applyStatus(opts.client, object, {
        ...object.status,
        observedGeneration: object.metadata?.generation,
        conditions: setCondition(
          object.status?.conditions,
          {
            type: "Ready",
            status: "Unknown",
            reason: AWAITING_CONTROLLER,
            message: `the spec is valid; this version of the operator does not act on ${opts.kind} resources yet`,
          },
          object.metadata?.generation,
          new Date(),
        ),
      });
      return undefined;
    },
  });
}

export function ourType(kind: KindName, plural: string): ResourceType {
  return { apiVersion: API_VERSION, kind, plural, namespaced: true };
}
