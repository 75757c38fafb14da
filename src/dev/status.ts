// `dev status`: what kubectl get would show for the example stack, for people without kubectl.
import { KubeConfig } from "@kubernetes/client-node";

import { API_VERSION, KINDS } from "../api/index.ts";
import { KubeClient, type KubeObject } from "../runtime/kube.ts";
import type { DevState } from "./environment.ts";

interface WithConditions extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export async function printStackStatus(state: DevState): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  const client = new KubeClient(kc);
  console.log(`Kubernetes ${state.server} (kubeconfig ${state.kubeconfig}), up since ${state.startedAt}\n`);
  const rows: string[][] = [["KIND", "NAME", "READY", "REASON", "MESSAGE"]];
  for (const kind of KINDS) {
    const type = await client.resourceType(API_VERSION, kind);
    const { items } = await client.list<WithConditions>(type, { namespace: state.namespace });
    for (const item of items) {
      const ready = item.status?.conditions?.find((c) => c.type === "Ready");
      rows.push([
        kind,
        item.metadata?.name ?? "",
        ready?.status ?? "-",
        ready?.reason ?? "",
        ready?.message ?? "",
      ]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows)
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
}
