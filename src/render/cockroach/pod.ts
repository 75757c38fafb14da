// Pieces shared by the node pods and the Job pods: image, security context, and certificate volumes.

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import { certsDirItems, MOUNTED_KEY_FILE_MODE } from "../../pki/secret-layout.ts";

/** Where the cockroach binary is in the official image. */
export const COCKROACH_BINARY = "/cockroach/cockroach";
/** --certs-dir inside every container. */
export const CERTS_DIR = "/cockroach/cockroach-certs";
/** The store (--store) on the volume claimed by the StatefulSet. */
export const DATA_DIR = "/cockroach/cockroach-data";

// The official image runs as root unless told otherwise; any fixed non-root user works because every path
// CockroachDB writes to is a volume. 1000 is what the CockroachDB Helm chart uses.
const RUN_AS = 1000;

export function cockroachImage(cluster: CockroachCluster): string {
  return cluster.spec.image ?? `cockroachdb/cockroach:${cluster.spec.version}`;
}

/**
 * Non-root, with the pod's group owning the volumes. Kubelet writes Secret files as root with group fsGroup, which
 * is why certificate keys are mounted with mode 0440: CockroachDB accepts a root-owned key that its group may read.
 */
export function podSecurityContext(): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS,
    runAsGroup: RUN_AS,
    fsGroup: RUN_AS,
    // Re-owning a large store on every start would delay it by minutes.
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export function containerSecurityContext(): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  };
}

/**
 * A Secret volume laid out as a CockroachDB --certs-dir for `owner`, mounted directly (no copy at start) so that
 * a renewed certificate reaches the running process, which reloads it on SIGHUP.
 * https://www.cockroachlabs.com/docs/v26.1/rotate-certificates
 */
export function certsVolume(
  name: string,
  secretName: string,
  owner: { readonly node: true } | { readonly user: string },
): Record<string, unknown> {
  return {
    name,
    secret: {
      secretName,
      items: certsDirItems(owner, MOUNTED_KEY_FILE_MODE).map((item) => ({ ...item })),
    },
  };
}

export function imagePullFields(cluster: CockroachCluster): Record<string, unknown> {
  const secrets = cluster.spec.imagePullSecrets;
  return secrets === undefined || secrets.length === 0
    ? {}
    : { imagePullSecrets: secrets.map((ref) => ({ name: ref.name })) };
}

export function imagePullPolicy(cluster: CockroachCluster): Record<string, unknown> {
  return cluster.spec.imagePullPolicy === undefined ? {} : { imagePullPolicy: cluster.spec.imagePullPolicy };
}
