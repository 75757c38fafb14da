// Figures for the runtime on a real control plane: how long the control plane takes to start, how fast a
// trivial controller converges N objects, how many API writes that costs per object, how many it makes at
// steady state (the target is 0), and the operator's memory.

import { ensureControlPlaneBinaries } from "../src/controlplane/binaries.ts";
import { LocalControlPlane } from "../src/controlplane/controlplane.ts";
import { KubeClient } from "../src/runtime/kube.ts";
import { createLogger } from "../src/runtime/log.ts";
import { Manager } from "../src/runtime/manager.ts";
import { installWidgetCrd, WIDGET, type Widget, widgetController } from "../test/support/widget.ts";
import type { Figure } from "./run.ts";

const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 100);

export async function run(): Promise<Figure[]> {
  const figures: Figure[] = [];
  let t = performance.now();
  await ensureControlPlaneBinaries();
  figures.push({ name: "control plane binaries (cached) lookup", value: performance.now() - t, unit: "ms" });
  t = performance.now();
  const cp = await LocalControlPlane.start({ name: "bench", nodes: 1 });
  figures.push({ name: "control plane start to ready", value: (performance.now() - t) / 1000, unit: "s" });
  try {
    const client = new KubeClient(cp.kubeConfig());
    await installWidgetCrd(client);
    await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } });
    const manager = new Manager({ kubeConfig: cp.kubeConfig(), log: createLogger({ level: "error" }) });
    let reconciles = 0;
    manager.add(
      widgetController({
        client: manager.client,
        log: manager.log,
        onReconcile: () => {
          reconciles++;
        },
      }),
    );
    await manager.start();
    const heapBefore = process.memoryUsage().heapUsed;
    t = performance.now();
    for (let i = 0; i < OBJECTS; i++) {
      await client.apply({
        apiVersion: WIDGET.apiVersion,
        kind: "Widget",
        metadata: { name: `w-${i}`, namespace: "bench" },
        spec: { size: 1 + (i % 10) },
      });
    }
    for (;;) {
      const { items } = await client.list<Widget>(WIDGET, { namespace: "bench" });
      const ready = items.filter((w) =>
        w.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      if (ready.length === OBJECTS) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    figures.push({
      name: `converge ${OBJECTS} objects (create to all Ready)`,
      value: (performance.now() - t) / 1000,
      unit: "s",
    });
    figures.push({
      name: "API writes per object to converge",
      value: manager.client.writes / OBJECTS,
      unit: "writes",
    });
    await new Promise((r) => setTimeout(r, 2000));
    const writes = manager.client.writes;
    const reconcilesBefore = reconciles;
    await new Promise((r) => setTimeout(r, 10_000));
    figures.push({
      name: "reconciles in 10 s of steady state (resync 0.5 s)",
      value: reconciles - reconcilesBefore,
      unit: "reconciles",
    });
    figures.push({
      name: "API writes in 10 s of steady state",
      value: manager.client.writes - writes,
      unit: "writes",
    });
    figures.push({
      name: `heap growth with ${OBJECTS} objects cached`,
      value: (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20,
      unit: "MiB",
    });
    figures.push({ name: "operator process RSS", value: process.memoryUsage().rss / 2 ** 20, unit: "MiB" });
    await manager.stop();
  } finally {
    await cp.stop();
  }
  return figures;
}
