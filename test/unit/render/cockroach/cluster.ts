// Test input: a CockroachCluster with the API's defaults applied, as the reconciler would receive it.
import type { CockroachCluster } from "../../../../src/api/cockroachcluster.ts";
import { parseResourceAs } from "../../../../src/api/validate.ts";

export function cockroachCluster(
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
  status?: Record<string, unknown>,
): CockroachCluster {
  const parsed = parseResourceAs("CockroachCluster", {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "CockroachCluster",
    metadata: { name: "crdb", namespace: "identity", uid: "uid-1", ...metadata },
    spec: { version: "v25.2.4", ...(spec.regions === undefined ? { nodes: 3 } : {}), ...spec },
    ...(status === undefined ? {} : { status }),
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.resource;
}
