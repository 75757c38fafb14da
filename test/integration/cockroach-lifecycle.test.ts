// The CockroachCluster lifecycle on a real control plane (kube-apiserver, controller-manager, scheduler) whose pods
// kwok simulates: StatefulSet pods become Running and Ready, Job pods complete. No CockroachDB runs here, so a
// small simulator in this file plays the cluster's side of every question the operator asks through a SQL Job: it
// writes what `cockroach sql` would print into the Job pod's termination message (the pod status subresource, as
// the kubelet would). It answers node-status with one node per pod (membership from the decommission Jobs that
// completed, unless a test holds them "decommissioning") and replication with `underReplicated`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const log = createLogger({ level: "error" });
const POD = { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true };
const JOB = { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true };
const STS = { apiVersion: "apps/v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true };
const EVENT = { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events", namespaced: true };
const CLUSTER_LABEL = "zitadel-operator.dev/cluster";

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type Cluster = KubeObject & {
  spec: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    initialized?: boolean;
    readyNodes?: number;
    currentVersion?: string;
    finalizedVersion?: string;
  };
};
type Pod = KubeObject & {
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; state?: { terminated?: Record<string, unknown> } }[];
  };
};
type Job = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
type StatefulSet = KubeObject & {
  spec: { replicas: number; updateStrategy: { rollingUpdate: { partition: number } } };
};

function cockroachCluster(ns: string, name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "CockroachCluster",
    metadata: { name, namespace: ns },
    spec: { version: "v24.3.5", nodes: 3, ...spec },
  };
}

async function getCluster(ns: string, name: string): Promise<Cluster> {
  const type = await client.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
  const c = await client.get<Cluster>(type, ns, name);
  if (c === undefined) throw new Error(`no CockroachCluster ${name}`);
  return c;
}

const condition = (c: Cluster, type: string) => c.status?.conditions?.find((x) => x.type === type);

async function until(
  ns: string,
  name: string,
  type: string,
  status: string,
  reason?: string,
  timeoutMs = 60_000,
) {
  return eventually(
    async () => {
      const c = await getCluster(ns, name);
      const found = condition(c, type);
      expect(found?.status, `${type}: ${JSON.stringify(found)}`).toBe(status);
      if (reason !== undefined) expect(found?.reason, JSON.stringify(found)).toBe(reason);
      return c;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

const jobs = async (ns: string, cluster: string) =>
  (await client.list<Job>(JOB, { namespace: ns, labelSelector: `${CLUSTER_LABEL}=${cluster}` })).items;
const statefulSet = async (ns: string, name: string) =>
  (await client.get<StatefulSet>(STS, ns, name)) as StatefulSet;
const complete = (job: Job) =>
  job.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True");
const component = (o: KubeObject) => o.metadata?.labels?.["app.kubernetes.io/component"];
/** "Reason: note" of every Event about the object named `name` in the test namespace. */
const eventNotes = async (name: string) =>
  (
    await client.list<KubeObject & { reason?: string; note?: string; regarding?: { name?: string } }>(EVENT, {
      namespace: ns,
    })
  ).items
    .filter((e) => e.regarding?.name === name)
    .map((e) => `${e.reason}: ${e.note}`);

/** Plays CockroachDB's answers to the operator's SQL Jobs in one namespace. */
class Simulator {
  underReplicated = 0;
  /** While true, nodes of completed decommission Jobs are still reported "decommissioning". */
  holdDecommission = false;
  /** Node IDs per "<cluster>/<pod>", assigned as pods first appear (as nodes get IDs when they join). */
  readonly ids = new Map<string, number>();
  private next = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly ns: string;
  constructor(ns: string) {
    this.ns = ns;
  }

  start() {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = true;
      this.tick()
        .catch(() => {})
        .finally(() => {
          this.running = false;
        });
    }, 100);
  }
  stop() {
    clearInterval(this.timer);
  }

  private async tick() {
    const pods = (await client.list<Pod>(POD, { namespace: this.ns, labelSelector: CLUSTER_LABEL })).items;
    for (const pod of pods.filter((p) => component(p) === "database")) {
      const key = `${pod.metadata?.labels?.[CLUSTER_LABEL]}/${pod.metadata?.name}`;
      if (!this.ids.has(key)) {
        const cluster = pod.metadata?.labels?.[CLUSTER_LABEL] ?? "";
        const id = (this.next.get(cluster) ?? 0) + 1;
        this.next.set(cluster, id);
        this.ids.set(key, id);
      }
    }
    for (const pod of pods) {
      const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
      if (pod.status?.phase !== "Succeeded" || terminated === undefined || terminated.message) continue;
      const cluster = pod.metadata?.labels?.[CLUSTER_LABEL] ?? "";
      let answer: string | undefined;
      if (component(pod) === "node-status") answer = await this.nodeStatus(cluster);
      if (component(pod) === "replication")
        answer = `under_replicated,unavailable\n${this.underReplicated},0\n`;
      if (answer === undefined) continue;
      const statuses = pod.status?.containerStatuses ?? [];
      await client.apply(
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: pod.metadata?.name, namespace: this.ns },
          status: {
            containerStatuses: statuses.map((s, i) =>
              i === 0 ? { ...s, state: { terminated: { ...terminated, message: answer } } } : s,
            ),
          },
        },
        { subresource: "status", fieldManager: "cockroach-simulator" },
      );
    }
  }

  /** What nodeMembershipQuery returns: one row per node that ever joined. */
  private async nodeStatus(cluster: string): Promise<string> {
    const leaving = new Set<number>();
    const decommissioned = new Set<number>();
    for (const job of await jobs(this.ns, cluster)) {
      if (component(job) !== "decommission") continue;
      for (const id of job.metadata?.annotations?.["zitadel-operator.dev/node-ids"]?.split(",") ?? []) {
        leaving.add(Number(id));
        if (complete(job) && !this.holdDecommission) decommissioned.add(Number(id));
      }
    }
    const rows = [...this.ids]
      .filter(([key]) => key.startsWith(`${cluster}/`))
      .map(([key, id]) => {
        const pod = key.slice(cluster.length + 1);
        const membership = decommissioned.has(id)
          ? "decommissioned"
          : leaving.has(id)
            ? "decommissioning"
            : "active";
        return `${id},${pod}.${cluster}.${this.ns}.svc.cluster.local:26257,v24.3.5,${membership},false,true`;
      });
    return ["node_id,address,build_tag,membership,draining,is_live", ...rows].join("\n");
  }
}

let ns: string;
let operator: Manager | undefined;
let sim: Simulator;
const startOperator = async () => {
  operator = createOperator({ kubeConfig: kc, log, namespaces: [ns] });
  await operator.start();
};
const stopOperator = async () => {
  await operator?.stop();
  operator = undefined;
};

beforeAll(async () => {
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "crdb-life");
  sim = new Simulator(ns);
  sim.start();
  await startOperator();
});
afterAll(async () => {
  sim?.stop();
  await stopOperator();
});

describe("CockroachCluster lifecycle", () => {
  it("initializes a new cluster exactly once, across an operator restart, and reports Ready", async () => {
    const started = Date.now();
    await client.apply(cockroachCluster(ns, "init"));
    // Restart the operator while the cluster is coming up: the init Job is found again, not run twice.
    await eventually(async () =>
      expect((await jobs(ns, "init")).some((j) => component(j) === "init")).toBe(true),
    );
    await stopOperator();
    await startOperator();
    const ready = await until(ns, "init", "Ready", "True");
    console.log(`[lifecycle] create 3 nodes -> Ready in ${Date.now() - started} ms`);
    expect(ready.status?.initialized).toBe(true);
    expect(ready.status?.readyNodes).toBe(3);
    expect(ready.status?.currentVersion).toBe("v24.3.5");
    expect(ready.status?.finalizedVersion).toBe("24.3");
    expect(condition(ready, "Initialized")?.status).toBe("True");
    expect(condition(ready, "Available")?.status).toBe("True");
    // Steady state: nothing left to write, neither now nor after a restart (a fresh cache finds it all in place).
    await new Promise((r) => setTimeout(r, 1_000));
    const writes = operator?.client.writes ?? 0;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(operator?.client.writes).toBe(writes);
    await stopOperator();
    await startOperator();
    await new Promise((r) => setTimeout(r, 3_000));
    expect(operator?.client.writes).toBe(0);
    const initJobs = (await jobs(ns, "init")).filter((j) => component(j) === "init");
    expect(initJobs.map((j) => j.metadata?.name)).toEqual(["init-init"]);
    // Once initialized, the init Job is not rendered any more: deleting it does not bring it back.
    await client.delete(JOB, ns, "init-init", { propagationPolicy: "Background" });
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await jobs(ns, "init")).filter((j) => component(j) === "init")).toEqual([]);
    const events = (
      await client.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(EVENT, {
        namespace: ns,
      })
    ).items
      .filter((e) => e.regarding?.name === "init")
      .map((e) => e.reason);
    expect(events).toContain("InitStarted");
    expect(events).toContain("InitSucceeded");
  });

  it("scales 3 -> 5 -> 3, decommissioning the departing nodes before lowering replicas, across a restart", async () => {
    await client.apply(cockroachCluster(ns, "scale"));
    await until(ns, "scale", "Ready", "True");
    let started = Date.now();
    await client.apply(cockroachCluster(ns, "scale", { nodes: 5 }));
    await eventually(async () => expect((await getCluster(ns, "scale")).status?.readyNodes).toBe(5), {
      timeoutMs: 60_000,
    });
    await until(ns, "scale", "Ready", "True");
    console.log(`[lifecycle] scale 3 -> 5 in ${Date.now() - started} ms`);

    // Scale down while the cluster keeps reporting the departing nodes as decommissioning.
    sim.holdDecommission = true;
    started = Date.now();
    await client.apply(cockroachCluster(ns, "scale", { nodes: 3 }));
    const job = await eventually(
      async () => {
        const found = (await jobs(ns, "scale")).find((j) => component(j) === "decommission");
        expect(found).toBeDefined();
        return found as Job;
      },
      { timeoutMs: 30_000 },
    );
    // Both departing nodes (pods scale-4 and scale-3) in one Job, by the IDs the cluster reported for them, in
    // ascending order. Pods start in parallel, so which of the two the simulator numbered first varies.
    const ids = [sim.ids.get("scale/scale-3"), sim.ids.get("scale/scale-4")]
      .map(Number)
      .sort((a, b) => a - b)
      .join(",");
    expect(job.metadata?.annotations?.["zitadel-operator.dev/node-ids"]).toBe(ids);
    expect(job.metadata?.annotations?.["zitadel-operator.dev/departing-ordinals"]).toBe("4,3");
    await eventually(async () =>
      expect(complete((await jobs(ns, "scale")).find((j) => component(j) === "decommission") as Job)).toBe(
        true,
      ),
    );
    await until(ns, "scale", "ScalingDown", "True");
    // The Job finished, but the cluster still says "decommissioning": the replicas stay, even across a restart.
    await stopOperator();
    await startOperator();
    await new Promise((r) => setTimeout(r, 4_000));
    expect((await statefulSet(ns, "scale")).spec.replicas).toBe(5);
    const waiting = await getCluster(ns, "scale");
    expect(condition(waiting, "ScalingDown")?.status).toBe("True");
    expect(condition(waiting, "Ready")?.status).toBe("False");

    sim.holdDecommission = false;
    await eventually(
      async () =>
        expect(
          (await statefulSet(ns, "scale")).spec.replicas,
          JSON.stringify({
            c: condition(await getCluster(ns, "scale"), "ScalingDown"),
            jobs: (await jobs(ns, "scale")).map((j) => [
              j.metadata?.name,
              j.metadata?.deletionTimestamp,
              j.status,
            ]),
            pods: (
              await client.list<Pod>(POD, {
                namespace: ns,
                labelSelector: "app.kubernetes.io/component=node-status",
              })
            ).items.map((p) => [
              p.metadata?.name,
              p.metadata?.deletionTimestamp,
              p.status?.phase,
              JSON.stringify(p.status?.containerStatuses),
            ]),
          }),
        ).toBe(3),
      {
        timeoutMs: 30_000,
      },
    );
    const done = await until(ns, "scale", "Ready", "True");
    console.log(
      `[lifecycle] scale 5 -> 3 (with a held decommission and a restart) in ${Date.now() - started} ms`,
    );
    expect(done.status?.readyNodes).toBe(3);
    expect(condition(done, "ScalingDown")?.status).toBe("False");
    const events = (
      await client.list<KubeObject & { reason?: string; note?: string; regarding?: { name?: string } }>(
        EVENT,
        { namespace: ns },
      )
    ).items.filter((e) => e.regarding?.name === "scale");
    expect(events.map((e) => e.reason)).toEqual(
      expect.arrayContaining(["ScaledUp", "DecommissionStarted", "ScaledDown", "VolumesKept"]),
    );
    // Volumes of removed nodes stay (storage.retainPolicy defaults to Retain).
    const claims = await client.list(
      { apiVersion: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true },
      { namespace: ns },
    );
    expect(claims.items.map((c) => c.metadata?.name)).toEqual(
      expect.arrayContaining(["datadir-scale-3", "datadir-scale-4"]),
    );
  });

  it("upgrades one pod at a time from the highest ordinal, waits for replication, resumes after a restart, finalizes last", async () => {
    await client.apply(cockroachCluster(ns, "upgrade"));
    await until(ns, "upgrade", "Ready", "True");
    const target = "v25.2.0";
    // What the test sees, every 100 ms: the order in which pods come back on the new version, the partitions the
    // StatefulSet went through, and the most node pods ever missing or unready at once.
    const rolled: string[] = [];
    const partitions: number[] = [];
    let mostDown = 0;
    const watch = setInterval(async () => {
      const pods = (
        await client.list<Pod>(POD, {
          namespace: ns,
          labelSelector: "app.kubernetes.io/component=database,zitadel-operator.dev/cluster=upgrade",
        })
      ).items;
      for (const p of pods)
        if (
          p.metadata?.labels?.["app.kubernetes.io/version"] === target &&
          !rolled.includes(p.metadata?.name ?? "")
        )
          rolled.push(p.metadata?.name ?? "");
      const ready = pods.filter(
        (p) =>
          !p.metadata?.deletionTimestamp &&
          p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      mostDown = Math.max(mostDown, 3 - ready.length);
      const partition = (await statefulSet(ns, "upgrade")).spec.updateStrategy.rollingUpdate.partition;
      if (partitions.at(-1) !== partition) partitions.push(partition);
    }, 100);
    try {
      const started = Date.now();
      // The cluster reports an under-replicated range: no pod may restart until it does not.
      sim.underReplicated = 1;
      await client.apply(cockroachCluster(ns, "upgrade", { version: target }));
      await until(ns, "upgrade", "Upgrading", "True", "RangesUnderReplicated", 30_000);
      const preserve = (await jobs(ns, "upgrade")).find((j) => component(j) === "preserve-24-3");
      expect(preserve && complete(preserve)).toBe(true);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(rolled).toEqual([]);
      sim.underReplicated = 0;

      // Restart the operator once the first pod runs the new version.
      await eventually(() => expect(rolled.length).toBeGreaterThanOrEqual(1), { timeoutMs: 30_000 });
      await stopOperator();
      await new Promise((r) => setTimeout(r, 1_000));
      await startOperator();

      const done = await until(ns, "upgrade", "Upgrading", "False", undefined, 90_000);
      await until(ns, "upgrade", "Ready", "True");
      console.log(
        `[lifecycle] upgrade v24.3.5 -> ${target} of 3 nodes (with a restart) in ${Date.now() - started} ms`,
      );
      expect(done.status?.currentVersion).toBe(target);
      expect(done.status?.finalizedVersion).toBe("25.2");
      expect(rolled).toEqual(["upgrade-2", "upgrade-1", "upgrade-0"]);
      expect(partitions.slice(partitions.indexOf(3))).toEqual([3, 2, 1, 0]);
      expect(mostDown).toBeLessThanOrEqual(1);
      // Finalization comes after the last pod restarted, never before.
      const finalize = (await jobs(ns, "upgrade")).find((j) => component(j) === "finalize-25-2");
      const lastPod = await client.get<Pod>(POD, ns, "upgrade-0");
      expect(finalize && complete(finalize)).toBe(true);
      expect(Date.parse(finalize?.metadata?.creationTimestamp ?? "")).toBeGreaterThanOrEqual(
        Date.parse(lastPod?.metadata?.creationTimestamp ?? ""),
      );
      const events = (
        await client.list<KubeObject & { reason?: string; note?: string; regarding?: { name?: string } }>(
          EVENT,
          { namespace: ns },
        )
      ).items
        .filter((e) => e.regarding?.name === "upgrade")
        .map((e) => e.reason);
      expect(events).toEqual(
        expect.arrayContaining([
          "PreservingDowngrade",
          "NodeRestarting",
          "UpgradeRolled",
          "Finalizing",
          "UpgradeFinalized",
        ]),
      );
    } finally {
      clearInterval(watch);
    }
  });

  it("refuses 0 nodes, a storage class change, a two-major jump and a major downgrade with a clear reason", async () => {
    await client.apply(cockroachCluster(ns, "invalid"));
    await until(ns, "invalid", "Ready", "True");
    // What the CRD schema can say is refused by the API server, before the operator sees it.
    await expect(client.apply(cockroachCluster(ns, "invalid", { nodes: 0 }))).rejects.toThrow(/nodes/);
    await expect(
      client.apply(cockroachCluster(ns, "invalid", { storage: { storageClassName: "fast" } })),
    ).rejects.toThrow(/storageClassName is immutable/);
    // What needs the running version is refused by the operator: the StatefulSet keeps its version.
    await client.apply(cockroachCluster(ns, "invalid", { version: "v26.1.0" }));
    let refused = await until(ns, "invalid", "Ready", "False", "InvalidSpec");
    expect(condition(refused, "Ready")?.message).toMatch(/one major version at a time.*v25\.1 or v25\.2/);
    await client.apply(cockroachCluster(ns, "invalid", { version: "v24.1.0" }));
    refused = await eventually(async () => {
      const c = await getCluster(ns, "invalid");
      expect(condition(c, "Ready")?.message).toMatch(/cannot go back from v24\.3\.5 to v24\.1\.0/);
      return c;
    });
    expect(condition(refused, "Upgrading")?.reason).toBe("InvalidSpec");
    const sts = (await statefulSet(ns, "invalid")) as StatefulSet & {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    expect(sts.spec.template.metadata.labels["app.kubernetes.io/version"]).toBe("v24.3.5");
    await client.apply(cockroachCluster(ns, "invalid"));
    await until(ns, "invalid", "Ready", "True");
  });

  it("halts an upgrade while a node pod fails, says which and why, and goes on once it recovers", async () => {
    await client.apply(cockroachCluster(ns, "halt"));
    await until(ns, "halt", "Ready", "True");
    // kwok cannot crash a container: the test writes what the kubelet would report for one in a crash loop.
    const pod = (await client.get<Pod>(POD, ns, "halt-0")) as Pod;
    const crashing = (crash: boolean) =>
      client.apply(
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "halt-0", namespace: ns },
          status: {
            conditions: (pod.status?.conditions ?? []).map((c) =>
              c.type === "Ready" || c.type === "ContainersReady"
                ? { ...c, status: crash ? "False" : "True" }
                : c,
            ),
            containerStatuses: (pod.status?.containerStatuses ?? []).map((c) =>
              crash
                ? {
                    ...c,
                    ready: false,
                    state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s" } },
                  }
                : c,
            ),
          },
        },
        { subresource: "status", fieldManager: "crash-simulator" },
      );
    await crashing(true);
    await client.apply(cockroachCluster(ns, "halt", { version: "v24.3.6" }));
    const halted = await until(ns, "halt", "Upgrading", "True", "NodeFailing");
    expect(condition(halted, "Upgrading")?.message).toMatch(
      /pod halt-0 is failing \(CrashLoopBackOff: back-off 5m0s\)/,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await statefulSet(ns, "halt")).spec.updateStrategy.rollingUpdate.partition).toBe(3);
    await crashing(false);
    const done = await until(ns, "halt", "Upgrading", "False", undefined, 60_000);
    expect(done.status?.currentVersion).toBe("v24.3.6");
    // A patch release needs no finalization: no preserve or finalize Job.
    expect((await jobs(ns, "halt")).map(component)).not.toContain("preserve-24-3");
  });

  it("leaves a major upgrade unfinalized with finalize: Manual until it is switched to Auto", async () => {
    await client.apply(cockroachCluster(ns, "manual", { upgrade: { finalize: "Manual" } }));
    await until(ns, "manual", "Ready", "True");
    await client.apply(
      cockroachCluster(ns, "manual", { version: "v25.1.2", upgrade: { finalize: "Manual" } }),
    );
    const awaiting = await until(ns, "manual", "Upgrading", "True", "AwaitingFinalization", 60_000);
    expect(awaiting.status?.currentVersion).toBe("v25.1.2");
    expect(awaiting.status?.finalizedVersion).toBe("24.3");
    expect(condition(awaiting, "Ready")?.status).toBe("True");
    expect((await jobs(ns, "manual")).map(component)).not.toContain("finalize-25-1");
    await client.apply(cockroachCluster(ns, "manual", { version: "v25.1.2", upgrade: { finalize: "Auto" } }));
    const finalized = await until(ns, "manual", "Upgrading", "False");
    expect(finalized.status?.finalizedVersion).toBe("25.1");
  });

  it("does nothing while paused, and says so; resumes when the annotation goes", async () => {
    await client.apply(cockroachCluster(ns, "paused"));
    await until(ns, "paused", "Ready", "True");
    const paused = cockroachCluster(ns, "paused", { nodes: 4 });
    paused.metadata = { ...paused.metadata, annotations: { "zitadel-operator.dev/paused": "true" } };
    await client.apply(paused);
    await until(ns, "paused", "Paused", "True");
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await statefulSet(ns, "paused")).spec.replicas).toBe(3);
    await client.apply(cockroachCluster(ns, "paused", { nodes: 4 }));
    await until(ns, "paused", "Paused", "False");
    await eventually(async () => expect((await statefulSet(ns, "paused")).spec.replicas).toBe(4));
  });

  it("on deletion keeps the volumes and the CA, and records in Events what stayed", async () => {
    await client.apply(cockroachCluster(ns, "gone"));
    await until(ns, "gone", "Ready", "True");
    const type = await client.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
    expect((await getCluster(ns, "gone")).metadata?.finalizers).toContain("zitadel-operator.dev/cleanup");
    await client.delete(type, ns, "gone");
    await eventually(async () => expect(await client.get(type, ns, "gone")).toBeUndefined(), {
      timeoutMs: 30_000,
    });
    const notes = await eventNotes("gone");
    expect(notes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^VolumesKept: PersistentVolumeClaims datadir-gone-0, datadir-gone-1, datadir-gone-2 are kept/,
        ),
        expect.stringMatching(/^CAKept: the CA Secret gone-ca is kept/),
      ]),
    );
    const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };
    expect(await client.get(SECRET, ns, "gone-ca")).toBeDefined();
    const PVC = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      plural: "persistentvolumeclaims",
      namespaced: true,
    };
    expect(await client.get(PVC, ns, "datadir-gone-0")).toBeDefined();
  });

  it("with storage.retainPolicy: Delete lets Kubernetes delete the volumes with the StatefulSet, and says so", async () => {
    await client.apply(cockroachCluster(ns, "purge", { storage: { size: "1Gi", retainPolicy: "Delete" } }));
    await until(ns, "purge", "Ready", "True");
    const PVC = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      plural: "persistentvolumeclaims",
      namespaced: true,
    };
    const claims = async () =>
      (await client.list(PVC, { namespace: ns, labelSelector: `${CLUSTER_LABEL}=purge` })).items.map(
        (c) => c.metadata?.name,
      );
    expect((await claims()).sort()).toEqual(["datadir-purge-0", "datadir-purge-1", "datadir-purge-2"]);
    expect(
      (await statefulSet(ns, "purge")).spec as unknown as { persistentVolumeClaimRetentionPolicy?: unknown },
    ).toMatchObject({
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
    });
    const type = await client.resourceType("zitadel-operator.dev/v1alpha1", "CockroachCluster");
    await client.delete(type, ns, "purge");
    await eventually(async () => expect(await claims()).toEqual([]), { timeoutMs: 60_000 });
    const notes = await eventNotes("purge");
    expect(notes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^VolumesDeleted: PersistentVolumeClaims datadir-purge-0, /),
      ]),
    );
  });
});
