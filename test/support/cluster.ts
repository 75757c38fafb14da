// What integration tests use to reach a real control plane.
import { randomBytes } from "node:crypto";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { type ControlPlaneOptions, LocalControlPlane } from "../../src/controlplane/controlplane.ts";
import { pidFile } from "./processes.ts";

/** A client for the control plane shared by the whole test run. */
export function sharedKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("controlPlane").kubeconfigPath);
  return kc;
}

/** A fresh namespace in the shared control plane, so tests never see each other's objects. */
export async function testNamespace(kc: KubeConfig, prefix = "t"): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/**
 * A control plane of the test's own, for tests that restart or break it. Its process ids are kept in the
 * test run's directory so the global teardown kills them even if the worker dies; call stop() in afterAll.
 */
export async function startControlPlane(
  opts: ControlPlaneOptions & { name: string },
): Promise<LocalControlPlane> {
  return LocalControlPlane.start({ ...opts, pidFile: await pidFile(opts.name) });
}
