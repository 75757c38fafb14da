// Everything a cluster needs to run the operator, as plain objects: namespace, CRDs, RBAC, Deployment, PDB and
// metrics Service. Pure and deterministic: manifests/install.yaml and the Helm chart are generated from here and
// unit tests fail when they are stale.
import { Document, isMap, isSeq } from "yaml";
import packageJson from "../../package.json" with { type: "json" };
import { renderCrds } from "../api/crds.ts";
import { CLUSTER_RULES, NAMESPACE_RULES, type PermissionRule, REMOTE_RULES, toPolicyRule } from "./rbac.ts";

export const OPERATOR_NAME = "zitadel-operator";
export const DEFAULT_NAMESPACE = "zitadel-operator";
export const DEFAULT_IMAGE_REPOSITORY = "ghcr.io/zitadel-operator/zitadel-operator";
/** The image of this version of the operator. */
export const DEFAULT_IMAGE = `${DEFAULT_IMAGE_REPOSITORY}:v${packageJson.version}`;
export const METRICS_PORT = 8080;
export const HEALTH_PORT = 8081;
/** uid and gid the operator runs as: "nonroot" of distroless images, created in our Dockerfile too. */
export const RUN_AS_USER = 65532;

export interface InstallOptions {
  namespace?: string;
  image: string;
  replicas?: number;
  leaderElect?: boolean;
}

export interface InstallObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

// The selector of the operator's pods; immutable once a Deployment exists, so it never carries the version.
const SELECTOR = { "app.kubernetes.io/name": OPERATOR_NAME, "app.kubernetes.io/component": "operator" };

function labels(): Record<string, string> {
  return {
    ...SELECTOR,
    "app.kubernetes.io/part-of": OPERATOR_NAME,
    "app.kubernetes.io/version": `v${packageJson.version}`,
  };
}

/**
 * The install manifests in apply order: Namespace, CRDs, then RBAC before the Deployment that needs it.
 * Throws on options that would run two operators at once.
 */
export function renderInstallManifests(options: InstallOptions): InstallObject[] {
  const { namespace = DEFAULT_NAMESPACE, image, replicas = 2, leaderElect = true } = options;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new Error(`replicas must be 1 or more, got ${replicas}`);
  // Without a Lease every replica would reconcile: they would fight over every object.
  if (replicas > 1 && !leaderElect) throw new Error("more than one replica needs leader election");
  if (image === "") throw new Error("an image is required");

  const meta = (name: string) => ({ name, namespace, labels: labels() });
  const serviceAccount = { kind: "ServiceAccount", name: OPERATOR_NAME, namespace };
  const objects: InstallObject[] = [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: namespace,
        labels: {
          ...labels(),
          // The operator needs nothing beyond the restricted Pod Security Standard; enforce it.
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
        },
      },
    },
    // Copies with a plain object type: the CustomResourceDefinition interface has no index signature.
    ...renderCrds().map((crd) => ({ ...crd })),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(OPERATOR_NAME) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: OPERATOR_NAME, labels: labels() },
      rules: CLUSTER_RULES.map(toPolicyRule),
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: OPERATOR_NAME, labels: labels() },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: OPERATOR_NAME },
      subjects: [serviceAccount],
    },
  ];
  if (leaderElect) {
    const name = `${OPERATOR_NAME}-leader-election`;
    objects.push(
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: meta(name),
        rules: NAMESPACE_RULES.map(toPolicyRule),
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: meta(name),
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects: [serviceAccount],
      },
    );
  }
  objects.push(
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(`${OPERATOR_NAME}-metrics`),
      spec: {
        type: "ClusterIP",
        selector: SELECTOR,
        ports: [{ name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" }],
      },
    },
    renderDeployment(namespace, image, replicas, leaderElect),
  );
  // With one replica, minAvailable 1 would block every node drain forever.
  if (replicas > 1) {
    objects.push({
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: meta(OPERATOR_NAME),
      spec: {
        minAvailable: 1,
        selector: { matchLabels: SELECTOR },
        // A crash-looping replica must not hold up a drain.
        unhealthyPodEvictionPolicy: "AlwaysAllow",
      },
    });
  }
  return objects;
}

function renderDeployment(namespace: string, image: string, replicas: number, leaderElect: boolean) {
  const restricted = {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    seccompProfile: { type: "RuntimeDefault" },
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: OPERATOR_NAME, namespace, labels: labels() },
    spec: {
      replicas,
      selector: { matchLabels: SELECTOR },
      template: {
        metadata: {
          labels: labels(),
          annotations: { "kubectl.kubernetes.io/default-container": "operator" },
        },
        spec: {
          serviceAccountName: OPERATOR_NAME,
          // The operator talks to the API server with this token; nothing else in the pod does.
          automountServiceAccountToken: true,
          securityContext: { ...restricted, fsGroup: RUN_AS_USER },
          containers: [
            {
              name: "operator",
              image,
              imagePullPolicy: "IfNotPresent",
              args: [
                "run",
                ...(leaderElect ? ["--leader-elect"] : []),
                `--metrics-bind-address=:${METRICS_PORT}`,
                `--health-probe-bind-address=:${HEALTH_PORT}`,
              ],
              env: [
                // Where the leader election Lease lives, and the identity the operator holds it under.
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                // Backup, restore and verify Jobs run the operator's own image (zitadel-operator job ...).
                { name: "OPERATOR_IMAGE", value: image },
              ],
              ports: [
                { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
                { name: "health", containerPort: HEALTH_PORT, protocol: "TCP" },
              ],
              livenessProbe: {
                httpGet: { path: "/healthz", port: "health" },
                initialDelaySeconds: 5,
                periodSeconds: 20,
              },
              readinessProbe: {
                httpGet: { path: "/readyz", port: "health" },
                initialDelaySeconds: 5,
                periodSeconds: 10,
              },
              // The CPU limit only stops a runaway loop from starving the node; the memory limit bounds the
              // informer caches of a large cluster.
              resources: {
                requests: { cpu: "100m", memory: "128Mi" },
                limits: { cpu: "1", memory: "512Mi" },
              },
              securityContext: {
                ...restricted,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              // The only writable path: GitSource checkouts and git's and ssh's HOME.
              volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
            },
          ],
          volumes: [{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }],
          topologySpreadConstraints: [
            {
              // Replicas on different nodes, so losing one node never loses the leader and its standby; on a
              // one-node cluster they still schedule.
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: SELECTOR },
              matchLabelKeys: ["pod-template-hash"],
            },
          ],
        },
      },
    },
  };
}

// Biome's line width (biome.json): generated YAML is formatted as Biome would format it.
const LINE_WIDTH = 110;

const HEADER =
  "# Generated by `zitadel-operator install --out manifests/install.yaml` from src/install. Do not edit.\n";

/** One object as YAML; the rules of a ClusterRole or Role carry their reasons as comments. */
export function installObjectToYaml(obj: InstallObject): string {
  const doc = new Document(obj, { aliasDuplicateObjects: false });
  const table =
    obj.kind === "ClusterRole"
      ? CLUSTER_RULES
      : obj.kind === "Role"
        ? obj.metadata.name === REMOTE_NAME
          ? REMOTE_RULES
          : NAMESPACE_RULES
        : [];
  table.forEach((rule: PermissionRule, i) => {
    const node = doc.getIn(["rules", i], true);
    if (!isMap(node)) return;
    node.commentBefore = wrap(rule.why, 100)
      .map((line) => ` ${line}`)
      .join("\n");
    // `verbs: [get, list, watch]` reads as one line of a table, where the line fits (Biome's YAML formatter
    // breaks longer flow sequences, and the file must stay as generated).
    for (const pair of node.items) {
      if (!isSeq(pair.value)) continue;
      const items = pair.value.items.map((item) => (String(item) === "" ? '""' : String(item))).join(", ");
      pair.value.flow = `    ${String(pair.key)}: [${items}]`.length <= LINE_WIDTH;
    }
  });
  // No line folding (descriptions stay greppable), as for crds/.
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** The install manifests as one multi-document YAML stream, as `zitadel-operator install --print` prints it. */
export function renderInstallYaml(options: InstallOptions): string {
  return (
    HEADER +
    renderInstallManifests(options)
      .map((obj) => `---\n${installObjectToYaml(obj)}`)
      .join("")
  );
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** The ServiceAccount, Role and RoleBinding the operator's RemoteCluster kubeconfig is for, in another cluster. */
export const REMOTE_NAME = `${OPERATOR_NAME}-remote`;

export function renderRemoteRole(namespace: string): InstallObject[] {
  const meta = { name: REMOTE_NAME, namespace, labels: labels() };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta,
      rules: REMOTE_RULES.map(toPolicyRule),
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: REMOTE_NAME },
      subjects: [{ kind: "ServiceAccount", name: REMOTE_NAME, namespace }],
    },
  ];
}

/** The remote Role as YAML, with how to turn its ServiceAccount into a RemoteCluster's kubeconfig. */
export function renderRemoteRoleYaml(namespace: string): string {
  return (
    `# Apply in the other cluster (namespace ${namespace} must exist). Then put a kubeconfig for this ServiceAccount\n` +
    `# into a Secret next to the RemoteCluster, with an inline token and CA, for example from:\n` +
    `#   kubectl -n ${namespace} create token ${REMOTE_NAME} --duration=8760h\n` +
    renderRemoteRole(namespace)
      .map((obj) => `---\n${installObjectToYaml(obj)}`)
      .join("")
  );
}
