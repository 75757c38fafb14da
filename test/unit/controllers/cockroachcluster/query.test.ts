// ask(): how a question to the cluster (a SQL Job) is started, waited for, read, and retired, against a fake cache
// and client, so every branch is pinned without a control plane.
import { describe, expect, it } from "vitest";
import { type CockroachCluster, parseResource } from "../../../../src/api/index.ts";
import type { Cache, StepContext } from "../../../../src/controllers/cockroachcluster/context.ts";
import { ask } from "../../../../src/controllers/cockroachcluster/query.ts";
import type { EventRecorder } from "../../../../src/runtime/events.ts";
import type { KubeClient, KubeObject, ResourceType } from "../../../../src/runtime/kube.ts";

const parsed = parseResource({
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "CockroachCluster",
  metadata: { name: "db", namespace: "ns", uid: "u1" },
  spec: { version: "v24.3.5", nodes: 3 },
});
if (!parsed.ok) throw new Error("fixture does not parse");
const cluster = parsed.resource as CockroachCluster;
const now = new Date("2026-01-01T00:01:00Z");
const labels = { "app.kubernetes.io/component": "node-status", "zitadel-operator.dev/cluster": "db" };

function world(objects: { jobs?: KubeObject[]; pods?: KubeObject[] }) {
  const applied: KubeObject[] = [];
  const deleted: string[] = [];
  const cache: Cache = {
    get: () => undefined,
    list: <O extends KubeObject>(type: ResourceType, _ns?: string, want?: Record<string, string>) =>
      ((type.kind === "Job" ? objects.jobs : objects.pods) ?? []).filter((o) =>
        Object.entries(want ?? {}).every(([k, v]) => o.metadata?.labels?.[k] === v),
      ) as O[],
  };
  const client = {
    apply: async (o: KubeObject) => {
      applied.push(o);
      return o;
    },
    delete: async (_t: ResourceType, _ns: string | undefined, name: string) => {
      deleted.push(name);
    },
  } as unknown as KubeClient;
  const ctx: StepContext = {
    cluster,
    object: cluster as unknown as KubeObject,
    client,
    cache,
    events: {} as EventRecorder,
    render: {},
    now,
  };
  return { ctx, applied, deleted };
}

const job = (
  name: string,
  status: Record<string, unknown>,
  created = "2026-01-01T00:00:50Z",
): KubeObject => ({
  metadata: { name, namespace: "ns", labels, creationTimestamp: created },
  status,
});
const done = (at: string) => ({ conditions: [{ type: "Complete", status: "True" }], completionTime: at });
const pod = (jobName: string, message: string): KubeObject => ({
  metadata: { namespace: "ns", labels: { ...labels, "batch.kubernetes.io/job-name": jobName } },
  status: {
    phase: "Succeeded",
    containerStatuses: [{ name: "node-status", state: { terminated: { message } } }],
  },
});
const readable = (csv: string) => (csv.startsWith("a,b") ? undefined : "unexpected");

describe("asking the cluster through a SQL Job", () => {
  it("starts a Job with a name of its own, saying when it was asked", async () => {
    const { ctx, applied } = world({});
    expect((await ask(ctx, "node-status", ["SELECT 1"], readable)).state).toBe("pending");
    const spec = (applied[0]?.spec ?? {}) as {
      template?: { spec?: { containers?: { env?: { value?: string }[] }[] } };
    };
    const env = spec.template?.spec?.containers?.[0]?.env?.[0]?.value;
    expect(env).toBe("/* asked at 2026-01-01T00:01:00.000Z */ SELECT 1;");
    expect(applied[0]?.metadata?.name).toMatch(/^db-node-status-[0-9a-f]{8}$/);
  });

  it("reads a finished Job's answer once, then deletes the Job", async () => {
    const { ctx, deleted, applied } = world({
      jobs: [job("q1", done("2026-01-01T00:00:55Z"))],
      pods: [pod("q1", "a,b\n1,2")],
    });
    expect(await ask(ctx, "node-status", ["SELECT 1"], readable)).toEqual({
      state: "answered",
      output: "a,b\n1,2",
    });
    expect(deleted).toEqual(["q1"]);
    expect(applied).toEqual([]);
  });

  it("waits a little for an answer that trails the Job's completion, then asks again", async () => {
    const fresh = world({ jobs: [job("q1", done("2026-01-01T00:00:55Z"))], pods: [pod("q1", "")] });
    expect((await ask(fresh.ctx, "node-status", ["SELECT 1"], readable)).state).toBe("pending");
    expect(fresh.deleted).toEqual([]);
    const late = world({ jobs: [job("q1", done("2026-01-01T00:00:30Z"))], pods: [pod("q1", "garbage")] });
    expect((await ask(late.ctx, "node-status", ["SELECT 1"], readable)).state).toBe("failed");
    expect(late.deleted).toEqual(["q1"]);
  });

  it("never trusts a stale answer, and keeps only the newest open question", async () => {
    const { ctx, deleted } = world({
      jobs: [
        job("old", done("2025-12-31T23:59:55Z"), "2025-12-31T23:59:50Z"),
        job("older", done("2025-12-31T23:59:45Z"), "2025-12-31T23:59:40Z"),
      ],
      pods: [pod("old", "a,b\n1,2")],
    });
    expect((await ask(ctx, "node-status", ["SELECT 1"], readable)).state).toBe("pending");
    expect(deleted).toEqual(["older", "old"]);
  });
});
