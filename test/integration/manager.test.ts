// A trivial controller built on the runtime, run as a real operator against a real API server: it converges,
// writes nothing at steady state, sets drift back, resumes after being killed mid-reconcile, survives 410 Gone
// and an API server restart, and with two replicas only the leader acts.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { LocalControlPlane } from "../../src/controlplane/controlplane.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import { Manager } from "../../src/runtime/manager.ts";
import { startControlPlane, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { CONFIGMAP, installWidgetCrd, WIDGET, type Widget, widgetController } from "../support/widget.ts";

const log = createLogger({ level: "error" });

function sharedClient(): { kc: KubeConfig; client: KubeClient } {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("controlPlane").kubeconfigPath);
  return { kc, client: new KubeClient(kc) };
}

function widget(namespace: string, name: string, size: number): KubeObject {
  return { apiVersion: WIDGET.apiVersion, kind: "Widget", metadata: { name, namespace }, spec: { size } };
}

async function readyWidget(client: KubeClient, namespace: string, name: string, size: number) {
  return eventually(
    async () => {
      const w = await client.get<Widget>(WIDGET, namespace, name);
      expect(w?.status?.observedGeneration).toBe(w?.metadata?.generation);
      expect(w?.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      const cm = await client.get<KubeObject & { data?: Record<string, string> }>(
        CONFIGMAP,
        namespace,
        `${name}-items`,
      );
      expect(Object.keys(cm?.data ?? {}).length).toBe(size);
      if (!w) throw new Error(`Widget ${namespace}/${name} is gone`);
      return w;
    },
    { timeoutMs: 30_000 },
  );
}

describe("an operator in process", () => {
  const { kc, client } = sharedClient();
  let manager: Manager;
  let ns: string;
  let reconciles = 0;

  beforeAll(async () => {
    await installWidgetCrd(client);
    ns = await testNamespace(kc, "mgr");
    manager = new Manager({ kubeConfig: kc, log });
    manager.add(
      widgetController({
        client: manager.client,
        log,
        namespaces: [ns],
        onReconcile: () => {
          reconciles++;
        },
      }),
    );
    await manager.start();
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("converges: applies the child, reports Ready with the observed generation", async () => {
    await client.apply(widget(ns, "a", 2));
    await readyWidget(client, ns, "a", 2);
    await client.apply(widget(ns, "a", 4));
    const w = await readyWidget(client, ns, "a", 4);
    expect(w.metadata?.generation).toBe(2);
  });

  it("writes nothing at steady state, over many resyncs", async () => {
    await client.apply(widget(ns, "steady", 3));
    await readyWidget(client, ns, "steady", 3);
    await new Promise((r) => setTimeout(r, 1500)); // let the last status and events settle
    const writesBefore = manager.client.writes;
    const reconcilesBefore = reconciles;
    await new Promise((r) => setTimeout(r, 4000)); // resync is every ~0.5 s
    expect(reconciles - reconcilesBefore).toBeGreaterThanOrEqual(8);
    expect(manager.client.writes - writesBefore).toBe(0);
  });

  it("sets a child changed by hand back", async () => {
    await client.apply(widget(ns, "drift", 2));
    await readyWidget(client, ns, "drift", 2);
    await client.apply(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "drift-items", namespace: ns },
        data: { "item-0": "x" },
      },
      { fieldManager: "someone-by-hand" },
    );
    await eventually(async () => {
      const cm = await client.get<KubeObject & { data?: Record<string, string> }>(
        CONFIGMAP,
        ns,
        "drift-items",
      );
      expect(cm?.data?.["item-0"]).toBe("0");
    });
  });

  it("records an Event for what it did", async () => {
    await client.apply(widget(ns, "evented", 1));
    await readyWidget(client, ns, "evented", 1);
    const eventType = await client.resourceType("events.k8s.io/v1", "Event");
    await eventually(async () => {
      const { items } = await client.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
        eventType,
        { namespace: ns },
      );
      expect(items.some((e) => e.reason === "ConfigMapApplied" && e.regarding?.name === "evented")).toBe(
        true,
      );
    });
  });
});

describe("an operator against an API server that restarts and compacts", () => {
  let cp: LocalControlPlane;
  let manager: Manager;
  beforeAll(async () => {
    cp = await startControlPlane({ name: "manager-restarts", nodes: 1 });
    const client = new KubeClient(cp.kubeConfig());
    await installWidgetCrd(client);
    manager = new Manager({ kubeConfig: cp.kubeConfig(), log });
    manager.add(widgetController({ client: manager.client, log }));
    await manager.start();
  });
  afterAll(async () => {
    await manager?.stop();
    await cp?.stop();
  });

  it("keeps converging after etcd compaction and an API server restart", async () => {
    const client = new KubeClient(cp.kubeConfig());
    await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "r" } });
    await client.apply(widget("r", "w", 1));
    await readyWidget(client, "r", "w", 1);
    await cp.compactEtcd();
    await cp.restartApiServer();
    await client.apply(widget("r", "w", 3));
    await readyWidget(client, "r", "w", 3);
  });
});

describe("operator processes", () => {
  const { kc, client } = sharedClient();
  const children: ChildProcess[] = [];
  let ns: string;

  beforeAll(async () => {
    await installWidgetCrd(client);
    ns = await testNamespace(kc, "proc");
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
  });

  function operatorProcess(env: Record<string, string>) {
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, "..", "support", "widget-operator.ts")],
      {
        env: {
          ...process.env,
          KUBECONFIG_PATH: inject("controlPlane").kubeconfigPath,
          NAMESPACE: ns,
          ...env,
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.push(child);
    const lines: { reconcile?: string; identity?: string; started?: string }[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (l) => {
      try {
        lines.push(JSON.parse(l));
      } catch {
        // not ours
      }
    });
    return { child, lines };
  }

  it("resumes a reconcile that was killed between applying the child and writing status", async () => {
    const first = operatorProcess({ APPLY_DELAY_MS: "60000", IDENTITY: "first" });
    await client.apply(widget(ns, "crash", 2));
    await eventually(async () => expect(await client.get(CONFIGMAP, ns, "crash-items")).toBeDefined(), {
      timeoutMs: 30_000,
    });
    first.child.kill("SIGKILL");
    const before = await client.get<Widget>(WIDGET, ns, "crash");
    expect(before?.status?.conditions).toBeUndefined();
    operatorProcess({ IDENTITY: "second" });
    await readyWidget(client, ns, "crash", 2);
  });

  it("with two replicas only the leader reconciles; killing it hands over within the lease duration", async () => {
    const a = operatorProcess({ LEADER_ELECTION: ns, IDENTITY: "replica-a" });
    const b = operatorProcess({ LEADER_ELECTION: ns, IDENTITY: "replica-b" });
    await client.apply(widget(ns, "led", 1));
    await readyWidget(client, ns, "led", 1);
    const lease = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>(
      await client.resourceType("coordination.k8s.io/v1", "Lease"),
      ns,
      "widget-operator",
    );
    const leaderName = lease?.spec?.holderIdentity;
    expect(["replica-a", "replica-b"]).toContain(leaderName);
    const [leader, follower] = leaderName === "replica-a" ? [a, b] : [b, a];
    expect(leader.lines.some((l) => l.reconcile)).toBe(true);
    expect(follower.lines.some((l) => l.reconcile)).toBe(false);

    leader.child.kill("SIGKILL");
    const killedAt = Date.now();
    await client.apply(widget(ns, "led", 2));
    await readyWidget(client, ns, "led", 2);
    const handover = Date.now() - killedAt;
    expect(follower.lines.some((l) => l.reconcile)).toBe(true);
    // Lease 3 s + one retry period 0.5 s + the reconcile itself.
    expect(handover).toBeLessThan(10_000);
  });
});
