// Integration tests share one real control plane (started here, once) and make their own namespaces in it.
// Tests that break a control plane on purpose (restart, compaction) start their own with startControlPlane().
import type { TestProject } from "vitest/node";
import { ensureControlPlaneBinaries } from "../../src/controlplane/binaries.ts";
import { type ControlPlaneInfo, LocalControlPlane } from "../../src/controlplane/controlplane.ts";
import { killRecordedProcesses, pidFile, runDir } from "./processes.ts";

declare module "vitest" {
  export interface ProvidedContext {
    controlPlane: ControlPlaneInfo;
  }
}

export default async function setup(project: TestProject) {
  const log = (line: string) => console.log(`[control plane] ${line}`);
  let started = Date.now();
  await ensureControlPlaneBinaries({ log });
  log(`binaries ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  started = Date.now();
  const run = await runDir();
  const cp = await LocalControlPlane.start({ name: "shared", pidFile: await pidFile("shared") });
  log(`shared control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s at ${cp.server}`);
  project.provide("controlPlane", cp.info());
  log(`process ids of every control plane in this run: ${run}`);
  return async () => {
    await cp.stop();
    // Anything a crashed test worker left running dies here, by process id.
    const killed = await killRecordedProcesses();
    if (killed.length > 0) log(`killed ${killed.length} leftover process(es): ${killed.join(", ")}`);
  };
}
