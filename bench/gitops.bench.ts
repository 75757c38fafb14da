// Figures for the GitSource controller on a real control plane and a real Git repository: the time from a commit
// to its objects in the cluster when the requested-at annotation (or the webhook receiver, which only sets that
// annotation) asks for the sync, the first sync of many objects, and the writes a sync of an unchanged revision
// costs (the target is the one status write that records the handled request).

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_VERSION } from "../src/api/group.ts";
import { GITSOURCE_TYPE, REQUESTED_AT_ANNOTATION } from "../src/controllers/gitsource/controller.ts";
import { LocalControlPlane } from "../src/controlplane/controlplane.ts";
import { installCrds } from "../src/dev/environment.ts";
import { sign, startReceiver } from "../src/gitops/receiver.ts";
import { createOperator } from "../src/operator.ts";
import { KubeClient, type KubeObject } from "../src/runtime/kube.ts";
import { createLogger } from "../src/runtime/log.ts";
import { TestRepo } from "../test/fixtures/gitops/git-repo.ts";
import type { Figure } from "./run.ts";

const ROUNDS = Number(process.env.BENCH_GITOPS_ROUNDS ?? 10);
const OBJECTS = Number(process.env.BENCH_GITOPS_OBJECTS ?? 50);
const NS = "bench-gitops";
const CONFIGMAP = { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true };

const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;

export async function run(): Promise<Figure[]> {
  const figures: Figure[] = [];
  const dir = await mkdtemp(join(tmpdir(), "bench-gitops-"));
  const cp = await LocalControlPlane.start({ name: "bench-gitops", nodes: 1 });
  try {
    const kc = cp.kubeConfig();
    const client = new KubeClient(kc);
    await installCrds(client, () => {});
    await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    const repo = await TestRepo.create(dir);
    const files: Record<string, string> = {};
    for (let i = 0; i < OBJECTS; i++) files[`prod/cm-${i}.yaml`] = configMap(`cm-${i}`, "0");
    await repo.commit("initial", files);

    const operator = createOperator({
      kubeConfig: kc,
      log: createLogger({ level: "error" }),
      namespaces: [NS],
    });
    await operator.start();
    const waitFor = async (check: () => Promise<boolean>): Promise<void> => {
      for (;;) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const status = async () =>
      (
        await client.get<
          KubeObject & { status?: { lastAppliedRevision?: string; lastHandledReconcileAt?: string } }
        >(GITSOURCE_TYPE, NS, "bench")
      )?.status;
    const applied = (commit: string) =>
      waitFor(async () => (await status())?.lastAppliedRevision?.endsWith(commit) ?? false);
    const handled = (at: string) => waitFor(async () => (await status())?.lastHandledReconcileAt === at);
    const value = async (name: string) =>
      (await client.get<KubeObject & { data?: { value?: string } }>(CONFIGMAP, NS, name))?.data?.value;
    const trigger = (at: string) =>
      client.apply(
        {
          apiVersion: API_VERSION,
          kind: "GitSource",
          metadata: { name: "bench", namespace: NS, annotations: { [REQUESTED_AT_ANNOTATION]: at } },
        },
        { fieldManager: "bench-trigger" },
      );

    let t = performance.now();
    await client.apply({
      apiVersion: API_VERSION,
      kind: "GitSource",
      metadata: { name: "bench", namespace: NS },
      spec: { url: repo.url, path: "prod", interval: "1h", prune: true },
    });
    await waitFor(async () => (await value(`cm-${OBJECTS - 1}`)) === "0");
    figures.push({ name: `first sync of ${OBJECTS} objects`, value: performance.now() - t, unit: "ms" });

    const latencies: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const commit = await repo.commit(`round ${round}`, {
        "prod/cm-0.yaml": configMap("cm-0", String(round)),
      });
      t = performance.now();
      await trigger(`round-${round}`);
      await applied(commit);
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    figures.push({
      name: `commit to revision applied, annotation trigger, ${OBJECTS} objects (median of ${ROUNDS})`,
      value: latencies[Math.floor(latencies.length / 2)] ?? 0,
      unit: "ms",
    });
    figures.push({
      name: "commit to revision applied, annotation trigger (max)",
      value: latencies[latencies.length - 1] ?? 0,
      unit: "ms",
    });

    const secret = "bench-secret";
    const receiver = await startReceiver("127.0.0.1:0", {
      client,
      secret,
      log: createLogger({ level: "error" }),
      namespaces: [NS],
    });
    try {
      const hooked: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const commit = await repo.commit(`hook ${round}`, {
          "prod/cm-0.yaml": configMap("cm-0", `hook-${round}`),
        });
        t = performance.now();
        const body = JSON.stringify({ ref: "refs/heads/main", round });
        const res = await fetch(`${receiver.url}/hook/${NS}/bench`, {
          method: "POST",
          body,
          headers: { "x-hub-signature-256": sign(body, secret) },
        });
        if (res.status !== 202) throw new Error(`the receiver answered ${res.status}`);
        await applied(commit);
        hooked.push(performance.now() - t);
      }
      hooked.sort((a, b) => a - b);
      figures.push({
        name: `commit to revision applied, webhook trigger (median of ${ROUNDS})`,
        value: hooked[Math.floor(hooked.length / 2)] ?? 0,
        unit: "ms",
      });
    } finally {
      receiver.server.close();
    }

    // A sync of a revision that changes nothing: only the status records the handled request.
    await trigger("settle");
    await handled("settle");
    await repo.commit("unrelated", { "README.md": "docs\n" });
    const writes = operator.client.writes;
    t = performance.now();
    await trigger("steady");
    await handled("steady");
    figures.push({
      name: `sync of an unchanged revision, ${OBJECTS} objects`,
      value: performance.now() - t,
      unit: "ms",
    });
    figures.push({
      name: `API writes by a sync of an unchanged revision, ${OBJECTS} objects`,
      value: operator.client.writes - writes,
      unit: "writes",
    });
    await operator.stop();
  } finally {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}
