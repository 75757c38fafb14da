import { z } from "zod";
import { listMap, preserveUnknownFields, withRules } from "./annotations.ts";
import { commonStatusFields } from "./conditions.ts";
import {
  DNS1035_LABEL,
  dnsLabel,
  hostName,
  imageReference,
  port,
  sqlIdentifier,
  versionString,
} from "./formats.ts";
import { ImagePullPolicySchema, ImagePullSecretsSchema } from "./image.ts";
import { AGE_COLUMN, defineKind, READY_COLUMN, REASON_COLUMN } from "./kind.ts";
import { credentialsSecretRef, localRef, secretKeyRef } from "./refs.ts";
import { ResourceRequirementsSchema } from "./resources.ts";
import { SchedulingSchema } from "./scheduling.ts";

// ZITADEL v3 dropped CockroachDB (zitadel/zitadel#9414): only v2.x can run on it.
const COCKROACH_VERSION_PREFIX = "v2.";

const CockroachDatabaseSchema = withRules(
  z.strictObject({
    clusterRef: localRef("CockroachCluster").describe("CockroachCluster in the same namespace."),
    database: sqlIdentifier().default("zitadel").describe("Database ZITADEL uses; created if missing."),
    user: sqlIdentifier()
      .default("zitadel")
      .describe("SQL user ZITADEL connects as; the operator creates it and issues its client certificate."),
  }),
  [{ rule: "self.database == oldSelf.database", message: "database is immutable", fieldPath: ".database" }],
);

const PostgresDatabaseSchema = withRules(
  z.strictObject({
    host: hostName().describe(
      "Host name or IP address of the PostgreSQL server (for CloudNativePG: <cluster>-rw).",
    ),
    port: port().default(5432).describe("TCP port of the PostgreSQL server."),
    database: sqlIdentifier().default("zitadel").describe("Database ZITADEL uses."),
    sslMode: z
      .enum(["disable", "require", "verify-ca", "verify-full"])
      .default("verify-full")
      .describe(
        "libpq sslmode. verify-full checks the server certificate and host name (give caSecretRef unless the " +
          "server's CA is publicly trusted); disable sends passwords in clear text.",
      ),
    caSecretRef: secretKeyRef("ca.crt", "Key holding the PEM CA certificate.")
      .optional()
      .describe("CA that signed the server certificate (for CloudNativePG: <cluster>-ca)."),
    adminSecretRef: credentialsSecretRef()
      .optional()
      .describe(
        "Superuser-like credentials (CREATEDB, CREATEROLE) used once per version by `zitadel init` to create " +
          "the database and the user (for CloudNativePG: <cluster>-superuser).",
      ),
    userSecretRef: credentialsSecretRef()
      .optional()
      .describe(
        "Credentials ZITADEL runs with. When unset the operator creates user zitadel with a generated password " +
          "(needs adminSecretRef). Without adminSecretRef, you create the user and the database it owns.",
      ),
  }),
  [
    {
      rule: "has(self.adminSecretRef) || has(self.userSecretRef)",
      message:
        "set adminSecretRef (the operator creates database and user) or userSecretRef (you created them)",
      check: (p) => p.adminSecretRef !== undefined || p.userSecretRef !== undefined,
    },
    { rule: "self.database == oldSelf.database", message: "database is immutable", fieldPath: ".database" },
  ],
);

const DatabaseSchema = withRules(
  z.strictObject({
    cockroach: CockroachDatabaseSchema.optional().describe(
      "Use a CockroachCluster managed by this operator (ZITADEL v2.x only).",
    ),
    postgres: PostgresDatabaseSchema.optional().describe("Use a PostgreSQL server (ZITADEL v2.x and later)."),
  }),
  [
    {
      rule: "has(self.cockroach) != has(self.postgres)",
      message: "set exactly one of cockroach or postgres",
      check: (d) => (d.cockroach === undefined) !== (d.postgres === undefined),
    },
    {
      rule: "has(self.cockroach) == has(oldSelf.cockroach)",
      message:
        "moving between CockroachDB and PostgreSQL is a data migration (zitadel mirror), not an edit; create a new " +
        "Zitadel for the new database",
    },
  ],
);

// Settings with their own spec field; a second source of truth in `config` would only be overwritten.
const OPERATOR_OWNED_CONFIG_KEYS = ["Database", "ExternalDomain", "ExternalPort", "ExternalSecure"];

const ConfigSchema = preserveUnknownFields(z.record(z.string(), z.unknown())).superRefine((config, ctx) => {
  for (const key of OPERATOR_OWNED_CONFIG_KEYS) {
    if (key in config) {
      ctx.addIssue({ code: "custom", path: [key], message: `set through spec fields, not config (${key})` });
    }
  }
});

const RegionSchema = z.strictObject({
  name: dnsLabel(20).describe("Region name; matches a CockroachCluster region to connect to nearby nodes."),
  clusterRef: localRef("RemoteCluster")
    .optional()
    .describe("RemoteCluster to run this region's pods in; this Kubernetes cluster when unset."),
  replicas: z
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe("ZITADEL pods in this region; spec.replicas when unset."),
});

export const ZitadelSpecSchema = withRules(
  z.strictObject({
    version: versionString().describe(
      "ZITADEL version, such as v4.13.0. Raising it runs `zitadel setup` for the new version to completion " +
        "before any pod of the new version starts.",
    ),
    image: imageReference()
      .optional()
      .describe(
        "Image override (a private mirror); must contain `version`. Default: ghcr.io/zitadel/zitadel:<version>.",
      ),
    imagePullPolicy: ImagePullPolicySchema.optional(),
    imagePullSecrets: ImagePullSecretsSchema.optional(),
    replicas: z
      .int()
      .min(0)
      .max(100)
      .default(2)
      .describe(
        "Number of ZITADEL pods. Scale it with kubectl scale or a HorizontalPodAutoscaler; 0 stops ZITADEL.",
      ),
    database: DatabaseSchema.describe(
      "The database ZITADEL stores everything in: exactly one of cockroach or postgres.",
    ),
    externalDomain: hostName().describe(
      "Domain users reach ZITADEL at, such as auth.example.com. ZITADEL binds its instance to it: changing it " +
        "later needs the new domain added to the instance first.",
    ),
    externalPort: port().default(443).describe("Port users reach ZITADEL at."),
    externalSecure: z
      .boolean()
      .default(true)
      .describe("Whether users reach ZITADEL over HTTPS (TLS terminated by the ingress or load balancer)."),
    masterkeySecretRef: secretKeyRef("masterkey", "Key holding the 32-character masterkey.")
      .optional()
      .describe(
        "Masterkey that encrypts secrets in the database. When unset the operator generates one in " +
          "<name>-masterkey and never deletes it. Cannot change: data encrypted with it would become unreadable.",
      ),
    config: ConfigSchema.optional().describe(
      "ZITADEL configuration merged over what the operator generates, in ZITADEL's own YAML shape " +
        "(https://zitadel.com/docs/self-hosting/manage/configure). Database and External* settings come from spec.",
    ),
    configSecretRef: secretKeyRef("config.yaml", "Key holding the YAML.")
      .optional()
      .describe("Further configuration with secrets in it (SMTP passwords...), as ZITADEL YAML in a Secret."),
    login: z
      .strictObject({
        enabled: z
          .boolean()
          .default(false)
          .describe("Run the login UI (Login v2) next to ZITADEL (v3 and later)."),
        replicas: z.int().min(0).max(100).default(2).describe("Number of login UI pods."),
        image: imageReference()
          .optional()
          .describe("Image override. Default: ghcr.io/zitadel/zitadel-login:<version>."),
      })
      .prefault({})
      .describe("The separate login UI."),
    ingress: z
      .strictObject({
        enabled: z.boolean().default(false).describe("Render an Ingress for externalDomain."),
        className: z
          .string()
          .min(1)
          .max(253)
          .optional()
          .describe("IngressClass; the cluster default when unset."),
        annotations: z
          .record(z.string().max(317), z.string().max(4096))
          .optional()
          .describe("Annotations for the Ingress, such as cert-manager.io/cluster-issuer."),
        tlsSecretName: z
          .string()
          .min(1)
          .max(253)
          .optional()
          .describe(
            "Secret with the certificate for externalDomain; the ingress controller's default when unset.",
          ),
      })
      .prefault({})
      .describe("Exposure through an Ingress (gRPC and HTTP on one host)."),
    resources: ResourceRequirementsSchema.optional().describe("CPU and memory of each ZITADEL pod."),
    scheduling: SchedulingSchema.prefault({}).describe("Where the pods may run."),
    regions: listMap(z.array(RegionSchema).min(1).max(16), ["name"])
      .optional()
      .describe("Run ZITADEL in several regions (clusters); one region in this cluster when unset."),
    deletionPolicy: z
      .strictObject({
        database: z
          .enum(["Retain", "Delete"])
          .default("Retain")
          .describe(
            "Retain keeps the database and its user when the Zitadel is deleted; Delete drops them: on PostgreSQL " +
              "those the operator created (with adminSecretRef), on CockroachDB by a SQL Job, keeping a database " +
              "or user another Zitadel still uses.",
          ),
      })
      .prefault({})
      .describe("What deleting this Zitadel removes. The masterkey Secret is always kept."),
  }),
  [
    {
      rule: `!has(self.database.cockroach) || self.version.startsWith('${COCKROACH_VERSION_PREFIX}')`,
      message:
        "ZITADEL v3 and later run only on PostgreSQL (zitadel/zitadel#9414): use a v2.x version with " +
        "database.cockroach, or database.postgres",
      fieldPath: ".version",
      check: (s) => s.database.cockroach === undefined || s.version.startsWith(COCKROACH_VERSION_PREFIX),
    },
    {
      rule: `!self.login.enabled || !self.version.startsWith('${COCKROACH_VERSION_PREFIX}')`,
      message: "the separate login UI needs ZITADEL v3 or later",
      fieldPath: ".login.enabled",
      check: (s) => !s.login.enabled || !s.version.startsWith(COCKROACH_VERSION_PREFIX),
    },
    {
      rule:
        "has(self.masterkeySecretRef) == has(oldSelf.masterkeySecretRef) && " +
        "(!has(self.masterkeySecretRef) || self.masterkeySecretRef == oldSelf.masterkeySecretRef)",
      message:
        "masterkeySecretRef is immutable: data encrypted with the old masterkey would become unreadable",
      fieldPath: ".masterkeySecretRef",
    },
  ],
);

export const ZitadelStatusSchema = z.object({
  ...commonStatusFields,
  replicas: z.int().min(0).optional().describe("ZITADEL pods that exist, for the scale subresource."),
  readyReplicas: z.int().min(0).optional().describe("ZITADEL pods that are ready."),
  selector: z
    .string()
    .max(1024)
    .optional()
    .describe("Label selector of the pods, for the scale subresource."),
  currentVersion: z.string().max(64).optional().describe("Version the running pods have."),
  migratedVersion: z
    .string()
    .max(64)
    .optional()
    .describe("Latest version whose `zitadel setup` completed against the database."),
  url: z.string().max(512).optional().describe("Where users reach ZITADEL."),
  masterkeySecretName: z.string().max(253).optional().describe("Secret holding the masterkey in use."),
});

export const ZitadelKind = defineKind({
  kind: "Zitadel",
  plural: "zitadels",
  shortNames: ["zit"],
  description:
    "A ZITADEL installation: Deployment, Service, configuration, masterkey, and the init and setup Jobs that " +
    "migrate its database before a new version starts.",
  name: {
    pattern: DNS1035_LABEL,
    maxLength: 40,
    reason: "the name prefixes Service, Deployment and Job names, which must be DNS-1035 labels",
  },
  spec: ZitadelSpecSchema,
  status: ZitadelStatusSchema,
  printerColumns: [
    READY_COLUMN,
    { name: "Replicas", type: "integer", jsonPath: ".status.readyReplicas", description: "Ready pods." },
    { name: "Version", type: "string", jsonPath: ".status.currentVersion", description: "Running version." },
    { name: "URL", type: "string", jsonPath: ".status.url", description: "External URL." },
    REASON_COLUMN,
    AGE_COLUMN,
  ],
  scale: {
    specReplicasPath: ".spec.replicas",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  },
});

export const ZitadelSchema = ZitadelKind.schema;
export type ZitadelSpec = z.output<typeof ZitadelSpecSchema>;
export type ZitadelStatus = z.output<typeof ZitadelStatusSchema>;
export type Zitadel = z.output<typeof ZitadelSchema>;
