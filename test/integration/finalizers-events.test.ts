// Finalizers and Events against the real API server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventRecorder } from "../../src/runtime/events.ts";
import { addFinalizer, FINALIZER, removeFinalizer } from "../../src/runtime/finalizers.ts";
import { ApiError, KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { CONFIGMAP } from "../support/widget.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
let ns: string;

beforeAll(async () => {
  ns = await testNamespace(kc, "fin");
});
afterAll(async () => {
  // Leave nothing that blocks namespace deletion.
  const cm = await client.get(CONFIGMAP, ns, "guarded");
  if (cm) {
    await client.jsonPatch(CONFIGMAP, ns, "guarded", [{ op: "remove", path: "/metadata/finalizers" }]);
  }
});

describe("finalizers", () => {
  it("adds and removes ours without touching anybody else's", async () => {
    await client.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "guarded", namespace: ns, finalizers: ["example.com/theirs"] },
    });
    let cm = (await client.get(CONFIGMAP, ns, "guarded")) as KubeObject;
    await addFinalizer(client, cm);
    cm = (await client.get(CONFIGMAP, ns, "guarded")) as KubeObject;
    expect(cm.metadata?.finalizers).toEqual(["example.com/theirs", FINALIZER]);
    await removeFinalizer(client, cm);
    cm = (await client.get(CONFIGMAP, ns, "guarded")) as KubeObject;
    expect(cm.metadata?.finalizers).toEqual(["example.com/theirs"]);
  });

  it("refuses to write from a stale read, so a concurrent change is never lost", async () => {
    const stale = (await client.get(CONFIGMAP, ns, "guarded")) as KubeObject;
    await client.jsonPatch(CONFIGMAP, ns, "guarded", [
      { op: "add", path: "/metadata/finalizers/-", value: "example.com/added-meanwhile" },
    ]);
    const err = await addFinalizer(client, stale).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const cm = (await client.get(CONFIGMAP, ns, "guarded")) as KubeObject;
    expect(cm.metadata?.finalizers).toEqual(["example.com/theirs", "example.com/added-meanwhile"]);
  });
});

describe("events", () => {
  it("records an events.k8s.io/v1 Event about the object, once per window, with secrets redacted", async () => {
    await client.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "noted", namespace: ns } });
    const cm = (await client.get(CONFIGMAP, ns, "noted")) as KubeObject;
    const recorder = new EventRecorder(client, { instance: "test" });
    const note = "connecting to postgres://zitadel:hunter2@db:5432/zitadel failed";
    expect(
      await recorder.record(cm, { type: "Warning", reason: "DatabaseUnreachable", action: "Connect", note }),
    ).toBe(true);
    expect(
      await recorder.record(cm, { type: "Warning", reason: "DatabaseUnreachable", action: "Connect", note }),
    ).toBe(false);
    const eventType = await client.resourceType("events.k8s.io/v1", "Event");
    const { items } = await client.list<
      KubeObject & {
        note?: string;
        reason?: string;
        regarding?: { uid?: string };
        reportingController?: string;
      }
    >(eventType, { namespace: ns });
    const ours = items.filter((e) => e.reason === "DatabaseUnreachable");
    expect(ours).toHaveLength(1);
    expect(ours[0]?.regarding?.uid).toBe(cm.metadata?.uid);
    expect(ours[0]?.reportingController).toBe("zitadel-operator.dev/operator");
    expect(ours[0]?.note).not.toContain("hunter2");
  });
});
