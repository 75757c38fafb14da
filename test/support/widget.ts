// A trivial kind and reconciler built on the runtime, for testing the runtime itself: a Widget asks for a
// ConfigMap with `size` entries; the reconciler applies it (owned by the Widget) and reports Ready.
import { createHash } from "node:crypto";
import type { Condition } from "../../src/api/conditions.ts";
import { Controller } from "../../src/runtime/controller.ts";
import { EventRecorder } from "../../src/runtime/events.ts";
import type { KubeClient, KubeObject, ResourceType } from "../../src/runtime/kube.ts";
import type { Logger } from "../../src/runtime/log.ts";
import { applyStatus, needsApply, setCondition } from "../../src/runtime/status.ts";
import { eventually } from "./eventually.ts";

export const WIDGET_GROUP = "test.zitadel-operator.dev";

export const widgetCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `widgets.${WIDGET_GROUP}` },
  spec: {
    group: WIDGET_GROUP,
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget" },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                properties: { size: { type: "integer", minimum: 1, maximum: 100 } },
                required: ["size"],
              },
              status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            },
          },
        },
      },
    ],
  },
};

export interface Widget extends KubeObject {
  spec: { size: number };
  status?: { observedGeneration?: number; conditions?: Condition[]; configMap?: string };
}

export const WIDGET: ResourceType = {
  apiVersion: `${WIDGET_GROUP}/v1`,
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
};
export const CONFIGMAP: ResourceType = {
  apiVersion: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
};

export function renderWidgetConfigMap(w: Widget): KubeObject {
  const data: Record<string, string> = {};
  for (let i = 0; i < w.spec.size; i++) data[`item-${i}`] = String(i);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `${w.metadata?.name}-items`,
      namespace: w.metadata?.namespace,
      labels: { "app.kubernetes.io/managed-by": "zitadel-operator" },
      annotations: {
        "test.zitadel-operator.dev/hash": createHash("sha256")
          .update(JSON.stringify(data))
          .digest("hex")
          .slice(0, 12),
      },
      ownerReferences: [
        {
          apiVersion: WIDGET.apiVersion,
          kind: "Widget",
          name: w.metadata?.name ?? "",
          uid: w.metadata?.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data,
  };
}

export interface WidgetControllerOptions {
  client: KubeClient;
  log: Logger;
  namespaces?: string[];
  /** Called at the start of every reconcile, e.g. to count them or to slow them down. */
  onReconcile?: (key: string) => Promise<void> | void;
  /** Called after the ConfigMap was applied and before status is written: a window for a crash. */
  afterApply?: () => Promise<void>;
}

export function widgetController(opts: WidgetControllerOptions): Controller<Widget> {
  const events = new EventRecorder(opts.client, { instance: "test" });
  const controller: Controller<Widget> = new Controller<Widget>({
    name: "widget",
    client: opts.client,
    log: opts.log,
    for: WIDGET,
    owns: [CONFIGMAP],
    namespaces: opts.namespaces,
    resyncMs: 500,
    reconcile: async ({ object, log }) => {
      await opts.onReconcile?.(`${object?.metadata?.namespace}/${object?.metadata?.name}`);
      if (!object || object.metadata?.deletionTimestamp) return undefined;
      const desired = renderWidgetConfigMap(object);
      const live = controller.get(CONFIGMAP, object.metadata?.namespace, desired.metadata?.name ?? "");
      if (needsApply(desired, live)) {
        await opts.client.apply(desired);
        await events.record(object, {
          type: "Normal",
          reason: "ConfigMapApplied",
          action: "Apply",
          note: `applied ConfigMap ${desired.metadata?.name}`,
        });
        log.info("applied configmap");
        await opts.afterApply?.();
      }
      const conditions = setCondition(
        object.status?.conditions,
        {
          type: "Ready",
          status: "True",
          reason: "Applied",
          message: `ConfigMap ${desired.metadata?.name} has ${object.spec.size} items`,
        },
        object.metadata?.generation,
        new Date(),
      );
      await applyStatus(opts.client, object, {
        observedGeneration: object.metadata?.generation,
        conditions,
        configMap: desired.metadata?.name,
      });
      return undefined;
    },
  });
  return controller;
}

/** Applies the Widget CRD and waits until Widgets can be listed. */
export async function installWidgetCrd(client: KubeClient): Promise<void> {
  await client.apply(widgetCrd);
  await eventually(() => client.list(WIDGET), { timeoutMs: 30_000 });
}
