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

describe("delete options", () => {
  it("reach the API server: a uid precondition that does not match refuses the delete", async () => {
    await client.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "precondition", namespace: ns },
    });
    const live = (await client.get(CONFIGMAP, ns, "precondition")) as KubeObject;
    const err = await client
      .delete(CONFIGMAP, ns, "precondition", { uid: "00000000-0000-0000-0000-000000000000" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
    expect(await client.get(CONFIGMAP, ns, "precondition")).toBeDefined();
    await client.delete(CONFIGMAP, ns, "precondition", { uid: live.metadata?.uid ?? "" });
    expect(await client.get(CONFIGMAP, ns, "precondition")).toBeUndefined();
  });

  it("reach the API server: Foreground propagation holds the owner until its dependents are gone", async () => {
    await client.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "owner", namespace: ns },
    });
    const owner = (await client.get(CONFIGMAP, ns, "owner")) as KubeObject;
    await client.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "dependent",
        namespace: ns,
        // Held by a finalizer of ours, so the owner must wait for it under Foreground propagation.
        finalizers: ["example.com/hold"],
        ownerReferences: [
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            name: "owner",
            uid: owner.metadata?.uid ?? "",
            blockOwnerDeletion: true,
          },
        ],
      },
    });
    await client.delete(CONFIGMAP, ns, "owner", { propagationPolicy: "Foreground" });
    const held = (await client.get(CONFIGMAP, ns, "owner")) as KubeObject | undefined;
    expect(held?.metadata?.finalizers).toContain("foregroundDeletion");
    await client.jsonPatch(CONFIGMAP, ns, "dependent", [{ op: "remove", path: "/metadata/finalizers" }]);
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
