import { z } from "zod";
import { commonStatusFields } from "./conditions.ts";
import { DNS1123_LABEL, DNS1123_SUBDOMAIN, dnsLabel, hostName, patterned } from "./formats.ts";
import { AGE_COLUMN, defineKind, READY_COLUMN, REASON_COLUMN } from "./kind.ts";
import { secretKeyRef } from "./refs.ts";

export const RemoteClusterSpecSchema = z.strictObject({
  kubeconfigSecretRef: secretKeyRef("kubeconfig", "Key holding the kubeconfig.").describe(
    "Secret with a kubeconfig for the other cluster. Its user needs rights on the objects the operator creates " +
      "there, in the target namespace only.",
  ),
  region: dnsLabel(20).describe("Locality region of the other cluster, such as eu-west-1."),
  namespace: dnsLabel()
    .optional()
    .describe(
      "Namespace in the other cluster for the objects the operator creates; the same name as here if unset.",
    ),
  clusterDomain: patterned(DNS1123_SUBDOMAIN, 253, "must be a DNS domain such as cluster.local")
    .default("cluster.local")
    .describe("DNS domain of the other cluster."),
  dnsSuffix: patterned(DNS1123_SUBDOMAIN, 253, "must be a DNS domain")
    .optional()
    .describe(
      "Suffix under which the other cluster's Services resolve from here, when DNS is forwarded between clusters " +
        "(CoreDNS stub domains), such as svc.eu-west-1.example.internal. svc.<clusterDomain> when unset, which " +
        "needs a flat pod network and a distinct clusterDomain per cluster.",
    ),
  advertisedAddresses: z
    .array(hostName())
    .max(64)
    .optional()
    .describe(
      "Addresses of the other cluster's CockroachDB nodes that this cluster can reach (such as per-pod load " +
        "balancers), used for --join and in certificates when cross-cluster DNS is not available.",
    ),
});

export const RemoteClusterStatusSchema = z.object({
  ...commonStatusFields,
  serverVersion: z.string().max(64).optional().describe("Kubernetes version of the other cluster."),
});

export const RemoteClusterKind = defineKind({
  kind: "RemoteCluster",
  plural: "remoteclusters",
  // "rc" belongs to ReplicationController.
  shortNames: ["rcl"],
  description:
    "A connection to another Kubernetes cluster, for CockroachCluster and Zitadel regions that run there. " +
    "Ready says whether the kubeconfig is acceptable (inline credentials only), the API server answers and " +
    "the operator holds every right it needs in the target namespace (see `zitadel-operator install " +
    "--remote-role`); it is checked every five minutes, every 30 seconds while it fails.",
  name: {
    pattern: DNS1123_LABEL,
    maxLength: 63,
    reason: "the name is a label value on the objects created in the other cluster",
  },
  spec: RemoteClusterSpecSchema,
  status: RemoteClusterStatusSchema,
  printerColumns: [
    READY_COLUMN,
    { name: "Region", type: "string", jsonPath: ".spec.region", description: "Locality region." },
    { name: "Server", type: "string", jsonPath: ".status.serverVersion", description: "Kubernetes version." },
    REASON_COLUMN,
    AGE_COLUMN,
  ],
});

export const RemoteClusterSchema = RemoteClusterKind.schema;
export type RemoteClusterSpec = z.output<typeof RemoteClusterSpecSchema>;
export type RemoteClusterStatus = z.output<typeof RemoteClusterStatusSchema>;
export type RemoteCluster = z.output<typeof RemoteClusterSchema>;
