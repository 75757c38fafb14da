import { z } from "zod";
import { listMap, withRules } from "./annotations.ts";
import { commonStatusFields } from "./conditions.ts";
import { celDurationSeconds, duration, parseDuration } from "./duration.ts";
import {
  DNS1035_LABEL,
  DNS1123_SUBDOMAIN,
  dnsLabel,
  imageReference,
  objectName,
  patterned,
  SAN_PATTERN,
  timestamp,
  versionString,
} from "./formats.ts";
import { ImagePullPolicySchema, ImagePullSecretsSchema } from "./image.ts";
import { AGE_COLUMN, defineKind, READY_COLUMN, REASON_COLUMN } from "./kind.ts";
import { QUANTITY_PATTERN } from "./quantity.ts";
import { localRef } from "./refs.ts";
import { ResourceRequirementsSchema } from "./resources.ts";
import { SchedulingSchema } from "./scheduling.ts";
import { StorageSchema } from "./storage.ts";

// Certificate defaults: the CA outlives many leaf rotations; leaves are short (as in CloudNativePG) because the
// operator rotates them itself, and are renewed a month early so an operator outage of weeks is survivable.
const TLSSchema = withRules(
  z.strictObject({
    caSecretRef: localRef("Secret")
      .optional()
      .describe(
        "Bring your own CA: a Secret with ca.crt and ca.key. The operator signs node and client certificates " +
          "with it. When unset, the operator creates a CA in <cluster>-ca and never deletes it.",
      ),
    // Minimums are seconds, not days: short lifetimes let you (and our tests) watch renewal and CA rotation
    // happen; production clusters keep the defaults.
    keyAlgorithm: z
      .enum(["ecdsa-p256", "rsa-2048", "rsa-3072"])
      .default("ecdsa-p256")
      .describe(
        "Key type of the certificates the operator issues: ecdsa-p256 (default: fast, small, as strong as RSA 3072), " +
          "rsa-2048 or rsa-3072. Changing it re-issues node and client certificates at their next renewal.",
      ),
    caLifetime: duration("1m")
      .default("43800h")
      .describe("Lifetime of a CA the operator creates (default 5 years). Ignored with caSecretRef."),
    caRenewBefore: duration("1s")
      .optional()
      .describe(
        "How long before the CA expires a CA rotation starts (default: the last third of its lifetime). A new " +
          "CA is trusted first, leaves move to it, then the old one is dropped: no restart, no downtime.",
      ),
    caOverlap: duration("1s")
      .default("168h")
      .describe(
        "How long a new CA is trusted before leaves move to it, and the old one after the last leaf left it " +
          "(default 7 days): the time every pod and client needs to pick up a changed ca.crt.",
      ),
    leafLifetime: duration("10s")
      .default("2160h")
      .describe("Lifetime of node and client certificates (default 90 days)."),
    renewBefore: duration("1s")
      .default("720h")
      .describe(
        "How long before expiry a certificate is replaced (default 30 days). Must be below leafLifetime.",
      ),
    extraSANs: z
      .array(patterned(SAN_PATTERN, 253, "must be a DNS name (wildcards allowed) or an IP address"))
      .max(32)
      .optional()
      .describe(
        "Extra DNS names and IP addresses for node certificates, such as a load balancer in front of the SQL port. " +
          "Service, pod and cross-cluster names are added by the operator.",
      ),
  }),
  [
    {
      rule: `${celDurationSeconds("self.renewBefore")} < ${celDurationSeconds("self.leafLifetime")}`,
      message: "renewBefore must be shorter than leafLifetime",
      fieldPath: ".renewBefore",
      check: (t) => (parseDuration(t.renewBefore) ?? 0) < (parseDuration(t.leafLifetime) ?? 0),
    },
    {
      rule: `has(self.caSecretRef) || ${celDurationSeconds("self.leafLifetime")} <= ${celDurationSeconds("self.caLifetime")}`,
      message: "leafLifetime must not exceed caLifetime",
      fieldPath: ".leafLifetime",
      check: (t) =>
        t.caSecretRef !== undefined ||
        (parseDuration(t.leafLifetime) ?? 0) <= (parseDuration(t.caLifetime) ?? 0),
    },
  ],
);

const RegionSchema = z.strictObject({
  name: dnsLabel(20).describe(
    'Locality region of these nodes (--locality=region=<name>), such as "eu-west-1". Also part of object names.',
  ),
  nodes: z.int().min(1).max(64).describe("Number of CockroachDB nodes in this region."),
  zone: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a lowercase zone name")
    .optional()
    .describe("Locality zone tier (--locality=...,zone=<zone>) when all nodes of the region share one zone."),
  clusterRef: localRef("RemoteCluster")
    .optional()
    .describe("RemoteCluster to run this region in; this Kubernetes cluster when unset."),
});

const SQLUserSchema = z.strictObject({
  name: patterned("^[a-z_][a-z0-9_]*$", 63, "must be a lowercase SQL user name").describe(
    "SQL user name; it becomes the certificate's common name.",
  ),
  secretName: objectName()
    .optional()
    .describe(
      "Secret to write the client certificate to (ca.crt, tls.crt, tls.key); <cluster>-client-<name> by default.",
    ),
});

const CACHE_PATTERN = `^([1-9][0-9]?%|${QUANTITY_PATTERN.slice(1, -1)})$`;

export const CockroachClusterSpecSchema = withRules(
  z.strictObject({
    version: versionString().describe(
      "CockroachDB version, such as v25.2.4. Raising it starts a rolling upgrade, one node at a time; the " +
        "operator refuses to skip a major release. The operator trusts this field rather than inspecting images.",
    ),
    image: imageReference()
      .optional()
      .describe(
        "Image override, such as a mirror in a private registry; must contain the CockroachDB binary of `version`. " +
          "Default: cockroachdb/cockroach:<version>.",
      ),
    imagePullPolicy: ImagePullPolicySchema.optional(),
    imagePullSecrets: ImagePullSecretsSchema.optional(),
    nodes: z
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe(
        "Number of nodes when the cluster lives in one Kubernetes cluster. Set this or regions, not both.",
      ),
    allowUnsafeNodeCount: z
      .boolean()
      .default(false)
      .describe(
        "Allow fewer than 3 nodes. Such a cluster cannot survive the loss of a node: for development only.",
      ),
    regions: listMap(z.array(RegionSchema).min(1).max(16), ["name"])
      .optional()
      .describe(
        "Nodes per locality region, possibly in other Kubernetes clusters. Set this or nodes, not both.",
      ),
    storage: StorageSchema.prefault({}).describe("Persistent volume of each node."),
    resources: ResourceRequirementsSchema.optional().describe(
      "CPU and memory of each node. CockroachDB recommends 4 GiB of memory per vCPU and memory limit = request.",
    ),
    cache: z
      .string()
      .max(64)
      .regex(new RegExp(CACHE_PATTERN), 'must be a percentage like "25%" or a quantity like "1Gi"')
      .default("25%")
      .describe(
        "Size of the storage engine cache (--cache), as a share of the memory limit or an absolute size.",
      ),
    maxSQLMemory: z
      .string()
      .max(64)
      .regex(new RegExp(CACHE_PATTERN), 'must be a percentage like "25%" or a quantity like "1Gi"')
      .default("25%")
      .describe(
        "Memory for SQL query processing (--max-sql-memory), as a share of the memory limit or a size.",
      ),
    tls: TLSSchema.prefault({}).describe(
      "Certificates for node-to-node and client traffic. TLS is always on; the operator issues and rotates " +
        "certificates and reloads them with SIGHUP, without restarts.",
    ),
    users: listMap(z.array(SQLUserSchema).max(64), ["name"])
      .optional()
      .describe(
        "SQL users that get a client certificate in a Secret. The operator creates the users once the cluster " +
          "is initialized (condition UsersReady); grants are yours, and a name removed from the list keeps its user.",
      ),
    upgrade: z
      .strictObject({
        finalize: z
          .enum(["Auto", "Manual"])
          .default("Auto")
          .describe(
            "Auto finalizes a major upgrade once every node runs the new version and is healthy. Manual leaves it " +
              "unfinalized, so rolling back to the previous version stays possible, until you switch this to Auto.",
          ),
      })
      .prefault({})
      .describe("How version upgrades are completed."),
    scaleDown: z
      .strictObject({
        allowed: z
          .boolean()
          .default(true)
          .describe(
            "Set to false to freeze the node count: lowering nodes then reports ScaleDownBlocked instead of " +
              "decommissioning.",
          ),
        decommissionTimeout: duration("1m")
          .default("2h")
          .describe(
            "How long a decommission may take before the cluster is reported Stalled. The operator keeps " +
              "waiting: it never removes a node that still holds data.",
          ),
      })
      .prefault({})
      .describe(
        "How removing nodes works: all departing nodes are decommissioned at once, then their pods go.",
      ),
    networkPolicy: z
      .boolean()
      .default(false)
      .describe(
        "Render a NetworkPolicy that admits only other nodes, the operator, and pods of Zitadel objects using " +
          "this cluster. Other clients need the label zitadel-operator.dev/cockroach-client=<cluster>.",
      ),
    clusterDomain: patterned(DNS1123_SUBDOMAIN, 253, "must be a DNS domain such as cluster.local")
      .default("cluster.local")
      .describe("DNS domain of this Kubernetes cluster; it goes into node certificates and join addresses."),
    scheduling: SchedulingSchema.prefault({}).describe("Where the node pods may run."),
  }),
  [
    {
      rule: "has(self.nodes) != has(self.regions)",
      message: "set exactly one of nodes (one Kubernetes cluster) or regions (multi-region)",
      check: (s) => (s.nodes === undefined) !== (s.regions === undefined),
    },
    {
      rule: "!has(self.nodes) || self.nodes >= 3 || self.allowUnsafeNodeCount",
      message:
        "fewer than 3 nodes cannot survive a node failure; set allowUnsafeNodeCount: true to run it anyway",
      fieldPath: ".nodes",
      check: (s) => s.nodes === undefined || s.nodes >= 3 || s.allowUnsafeNodeCount,
    },
    {
      rule: "!has(self.regions) || self.regions.map(r, r.nodes).sum() >= 3 || self.allowUnsafeNodeCount",
      message:
        "fewer than 3 nodes in total cannot survive a node failure; set allowUnsafeNodeCount: true to allow it",
      fieldPath: ".regions",
      check: (s) =>
        s.regions === undefined || s.regions.reduce((n, r) => n + r.nodes, 0) >= 3 || s.allowUnsafeNodeCount,
    },
    {
      rule: "!has(self.users) || self.users.all(u, u.name != 'root' && u.name != 'node')",
      message:
        "root and node are reserved: the operator keeps the root certificate, and node is the nodes' identity",
      fieldPath: ".users",
      check: (s) => (s.users ?? []).every((u) => u.name !== "root" && u.name !== "node"),
    },
  ],
);

const CertificateStatusSchema = z.object({
  name: z.string().max(253).describe('What the certificate is for: "ca", "node" or "client.<user>".'),
  secretName: z.string().max(253).describe("Secret holding it."),
  notAfter: timestamp().describe("Expiry time."),
  dnsNames: z.array(z.string().max(253)).max(256).optional().describe("DNS names and IPs it is valid for."),
});

const RegionStatusSchema = z.object({
  name: z.string().max(63).describe("Region name."),
  nodes: z.int().min(0).describe("Node pods that exist in the region."),
  readyNodes: z.int().min(0).describe("Node pods that are ready."),
});

export const CockroachClusterStatusSchema = z.object({
  ...commonStatusFields,
  initialized: z
    .boolean()
    .optional()
    .describe("Whether `cockroach init` has completed; it runs once per cluster."),
  nodes: z.int().min(0).optional().describe("Node pods that exist, over all regions."),
  readyNodes: z.int().min(0).optional().describe("Node pods that are ready, over all regions."),
  currentVersion: z
    .string()
    .max(64)
    .optional()
    .describe("Version every node runs; during an upgrade, the version being left."),
  finalizedVersion: z
    .string()
    .max(64)
    .optional()
    .describe(
      "The cluster version setting (major.minor): below currentVersion while an upgrade awaits finalization.",
    ),
  certificates: z
    .array(CertificateStatusSchema)
    .max(128)
    .optional()
    .describe("Certificates the operator manages."),
  regions: z.array(RegionStatusSchema).max(16).optional().describe("Nodes per region."),
  selector: z
    .string()
    .max(1024)
    .optional()
    .describe("Label selector of the node pods, for the scale subresource."),
});

export const CockroachClusterKind = defineKind({
  kind: "CockroachCluster",
  plural: "cockroachclusters",
  shortNames: ["crdb"],
  description:
    "A CockroachDB cluster: StatefulSets, Services, certificates and a PodDisruptionBudget, in one or more " +
    "Kubernetes clusters. Deleting it keeps volumes (storage.retainPolicy) and the CA Secret.",
  name: {
    pattern: DNS1035_LABEL,
    maxLength: 30,
    reason: "the name prefixes Service, StatefulSet and pod names, which must be DNS-1035 labels",
  },
  spec: CockroachClusterSpecSchema,
  status: CockroachClusterStatusSchema,
  printerColumns: [
    READY_COLUMN,
    { name: "Nodes", type: "integer", jsonPath: ".status.readyNodes", description: "Ready nodes." },
    { name: "Version", type: "string", jsonPath: ".status.currentVersion", description: "Running version." },
    REASON_COLUMN,
    AGE_COLUMN,
  ],
  scale: {
    specReplicasPath: ".spec.nodes",
    statusReplicasPath: ".status.nodes",
    labelSelectorPath: ".status.selector",
  },
});

export type CockroachClusterSpec = z.output<typeof CockroachClusterSpecSchema>;
export type CockroachClusterStatus = z.output<typeof CockroachClusterStatusSchema>;
export const CockroachClusterSchema = CockroachClusterKind.schema;
export type CockroachCluster = z.output<typeof CockroachClusterSchema>;
