// Operations on a running CockroachDB cluster: `cockroach init`, SQL statements, node decommissioning.
//
// Decision: every operation runs in a Kubernetes Job with the cluster's own CockroachDB image and the root client
// certificate. The operator never opens a SQL or RPC connection to CockroachDB itself. Why:
// 1. `cockroach init` and `cockroach node decommission` have no SQL form (they are RPCs of the cockroach CLI), so a
//    Job with the CockroachDB image is needed anyway; running SQL the same way keeps one mechanism to secure and
//    test instead of two.
// 2. A Job runs next to the nodes, in their Kubernetes cluster and namespace. The operator needs only the
//    Kubernetes API: no route into every region's pod network, no hole in the NetworkPolicy for the operator's
//    SQL, and regions in other clusters work the same way as local ones.
// 3. The root client key is mounted only into short-lived Job pods; the operator process never loads it or holds a
//    superuser connection. (The operator can still issue certificates, so this narrows exposure; it does not
//    remove the trust placed in the operator.)
// 4. The client always matches the server version, because it is the server's image.
// 5. Every operation is a named object with its statements in its spec, its output in its logs and its result in
//    its status: `kubectl get jobs` is the audit trail, and the integration tests' simulated pods complete Jobs
//    where no real CockroachDB can run.
// The costs: a few seconds of pod start per operation, and results limited to what fits the container's
// termination message (4 KiB: the version, the node table; not bulk reads). A Job's pod template is immutable, so
// each Job is named after what it does (a hash of its statements or node IDs): a repeated reconcile finds the same
// Job instead of starting a second one, and a different operation gets a different name. To repeat an operation
// (to observe something again), delete the finished Job first.

import type { CockroachCluster } from "../../api/cockroachcluster.ts";
import type { KubeObject } from "../../runtime/kube.ts";
import { ANNOTATION, childMeta, commonLabels, LABEL, shortHash } from "./meta.ts";
import {
  CERTS_DIR,
  COCKROACH_BINARY,
  certsVolume,
  cockroachImage,
  containerSecurityContext,
  imagePullFields,
  imagePullPolicy,
  podSecurityContext,
} from "./pod.ts";
import {
  type CockroachRenderContext,
  clusterName,
  GRPC_PORT,
  operationsPlacement,
  podAddress,
  publicServiceName,
  rootClientSecretName,
} from "./topology.ts";

const PURPOSE = /^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/;
const CERTS_VOLUME = "certs";
const TMP_VOLUME = "tmp";
const INIT_ATTEMPTS = 60;
const INIT_RETRY_SECONDS = 5;

/**
 * `cockroach init` against pod 0 of the first region, which is in every node's --join list. Runs once per cluster;
 * it waits for the node to answer, and an already initialized cluster counts as success, so re-running is safe.
 * Named <cluster>-init. https://www.cockroachlabs.com/docs/v26.1/cockroach-init
 */
export function renderInitJob(cluster: CockroachCluster, ctx: CockroachRenderContext = {}): KubeObject {
  const host = `${podAddress(operationsPlacement(cluster, ctx), 0)}:${GRPC_PORT}`;
  const init = `${COCKROACH_BINARY} init --certs-dir=${CERTS_DIR} --host=${host} --cluster-name=${clusterName(cluster)}`;
  const script = [
    "set -u",
    `for ((attempt = 1; attempt <= ${INIT_ATTEMPTS}; attempt++)); do`,
    `  if out=$(${init} 2>&1); then printf '%s\\n' "$out"; exit 0; fi`,
    '  case "$out" in *"already been initialized"*) echo "the cluster was already initialized"; exit 0 ;; esac',
    `  printf 'attempt %d: %s\\n' "$attempt" "$out" >&2`,
    `  sleep ${INIT_RETRY_SECONDS}`,
    "done",
    "exit 1",
  ].join("\n");
  return job(cluster, ctx, {
    name: `${clusterName(cluster)}-init`,
    purpose: "init",
    command: ["/bin/bash", "-c", script],
    env: [],
    backoffLimit: 6,
  });
}

/** Statements as text, or from a Secret key when they carry credentials (a BACKUP URI). */
export type SqlStatements =
  | readonly string[]
  | { readonly secretKeyRef: { readonly name: string; readonly key: string } };

/**
 * Runs `statements` (from src/db/cockroach.ts) with `cockroach sql` as root, in one session, and puts the CSV
 * output into the container's termination message for the reconciler to read. `purpose` names the Job
 * (<cluster>-<purpose>-<hash of the statements>), such as "bootstrap-zitadel" or "finalize".
 */
export function renderSqlJob(
  cluster: CockroachCluster,
  purpose: string,
  statements: SqlStatements,
  ctx: CockroachRenderContext = {},
): KubeObject {
  checkPurpose(purpose);
  const fromSecret = "secretKeyRef" in statements;
  if (!fromSecret && statements.length === 0) throw new Error(`SQL Job ${purpose} has no statements`);
  const host = `${publicServiceName(cluster)}:${GRPC_PORT}`;
  const script = [
    "set -u",
    // stdout only: notices and errors go to the log, which becomes the message when the Job fails.
    `out=$(${COCKROACH_BINARY} sql --certs-dir=${CERTS_DIR} --host=${host} --format=csv -e "$SQL") || exit 1`,
    `printf '%s\\n' "$out"`,
    "printf '%s' \"$out\" > /dev/termination-log",
  ].join("\n");
  const sql = fromSecret
    ? {
        name: "SQL",
        valueFrom: { secretKeyRef: { name: statements.secretKeyRef.name, key: statements.secretKeyRef.key } },
      }
    : { name: "SQL", value: statements.map((statement) => `${statement};`).join("\n") };
  return job(cluster, ctx, {
    name: `${clusterName(cluster)}-${purpose}-${shortHash(fromSecret ? statements.secretKeyRef : statements, 8)}`,
    purpose,
    command: ["/bin/bash", "-c", script],
    env: [sql],
    backoffLimit: 3,
  });
}

/**
 * `cockroach node decommission` for all departing nodes at once, waiting until every one reports decommissioned
 * (the Job succeeds then). scaleDownPlan decides the node IDs; the Job is named after them.
 * https://www.cockroachlabs.com/docs/v26.1/cockroach-node#node-decommission
 */
export function renderDecommissionJob(
  cluster: CockroachCluster,
  nodeIds: readonly number[],
  ctx: CockroachRenderContext = {},
): KubeObject {
  const ids = [...new Set(nodeIds)].sort((a, b) => a - b);
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 1))
    throw new Error(`invalid node IDs to decommission: ${nodeIds.join(", ")}`);
  const joined = ids.join("-");
  const suffix = joined.length <= 16 ? joined : shortHash(ids, 8);
  return job(cluster, ctx, {
    name: `${clusterName(cluster)}-decommission-${suffix}`,
    purpose: "decommission",
    command: [
      COCKROACH_BINARY,
      "node",
      "decommission",
      ...ids.map(String),
      "--wait=all",
      `--certs-dir=${CERTS_DIR}`,
      `--host=${publicServiceName(cluster)}:${GRPC_PORT}`,
      `--cluster-name=${clusterName(cluster)}`,
    ],
    env: [],
    backoffLimit: 3,
    annotations: { [ANNOTATION.nodeIds]: ids.join(",") },
  });
}

function checkPurpose(purpose: string): void {
  // Job names end up in a pod label (job-name), which allows 63 characters: 30 (cluster) + 20 + 8 + 2 dashes.
  if (!PURPOSE.test(purpose))
    throw new Error(`Job purpose "${purpose}" must be a DNS label of at most 20 characters`);
}

function job(
  cluster: CockroachCluster,
  ctx: CockroachRenderContext,
  spec: {
    readonly name: string;
    readonly purpose: string;
    readonly command: readonly string[];
    readonly env: readonly Record<string, unknown>[];
    readonly backoffLimit: number;
    readonly annotations?: Record<string, string>;
  },
): KubeObject {
  const placement = operationsPlacement(cluster, ctx);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: childMeta(cluster, {
      name: spec.name,
      namespace: placement.namespace,
      remoteCluster: placement.remoteCluster,
      component: spec.purpose,
      ...(spec.annotations === undefined ? {} : { annotations: spec.annotations }),
    }),
    spec: {
      backoffLimit: spec.backoffLimit,
      template: {
        metadata: {
          labels: {
            ...commonLabels(cluster, spec.purpose, undefined),
            // Admits the Job through the NetworkPolicy as a SQL client.
            [LABEL.cockroachClient]: clusterName(cluster),
          },
        },
        spec: {
          // A failed attempt leaves its pod (and log) behind for the condition message instead of restarting in place.
          restartPolicy: "Never",
          serviceAccountName: clusterName(cluster),
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(),
          ...imagePullFields(cluster),
          containers: [
            {
              name: spec.purpose,
              image: cockroachImage(cluster),
              ...imagePullPolicy(cluster),
              command: [...spec.command],
              env: [...spec.env, { name: "HOME", value: "/tmp" }],
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
              securityContext: containerSecurityContext(),
              terminationMessagePolicy: "FallbackToLogsOnError",
              volumeMounts: [
                { name: CERTS_VOLUME, mountPath: CERTS_DIR, readOnly: true },
                { name: TMP_VOLUME, mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            certsVolume(CERTS_VOLUME, rootClientSecretName(cluster, ctx), { user: "root" }),
            { name: TMP_VOLUME, emptyDir: {} },
          ],
        },
      },
    },
  };
}
