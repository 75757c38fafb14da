import { z } from "zod";
import { type Rule, withRules } from "./annotations.ts";
import { objectName, patterned, RELATIVE_PATH } from "./formats.ts";
import { secretKey, secretKeyRef } from "./refs.ts";

// Where backups are written (Backup) and read back from (Restore).

const OBJECT_PREFIX = "^[A-Za-z0-9._/-]*$";
const prefix = () =>
  z
    .string()
    .max(512)
    .regex(new RegExp(OBJECT_PREFIX), "must contain only letters, digits, '.', '_', '-' and '/'")
    .optional()
    .describe('Path inside the bucket under which backups are stored, such as "zitadel/prod".');

const S3Schema = z.strictObject({
  bucket: patterned(
    "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    63,
    "must be an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-'",
  ).describe("Bucket name."),
  prefix: prefix(),
  endpoint: patterned(
    "^https?://[^\\s/]+(/[^\\s]*)?$",
    512,
    'must be a URL like "https://minio.example.com:9000"',
  )
    .optional()
    .describe("Endpoint of an S3-compatible service such as MinIO or Ceph; AWS S3 when unset."),
  region: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9-]+$/, "must be a region name like eu-central-1")
    .optional()
    .describe("Bucket region, such as eu-central-1."),
  forcePathStyle: z
    .boolean()
    .default(false)
    .describe(
      "Address the bucket as <endpoint>/<bucket> instead of <bucket>.<endpoint>; most MinIO setups need it.",
    ),
  credentialsSecretRef: z
    .strictObject({
      name: objectName().describe("Name of the Secret in the same namespace."),
      accessKeyIDKey: secretKey().default("AWS_ACCESS_KEY_ID").describe("Key holding the access key ID."),
      secretAccessKeyKey: secretKey()
        .default("AWS_SECRET_ACCESS_KEY")
        .describe("Key holding the secret access key."),
    })
    .optional()
    .describe(
      "Secret with static credentials. When unset, the workload's ambient credentials are used (IRSA, instance " +
        "profile), i.e. CockroachDB's AUTH=implicit.",
    ),
});

const GCSSchema = z.strictObject({
  bucket: patterned(
    "^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$",
    222,
    "must be a GCS bucket name: lowercase letters, digits, '.', '_' and '-'",
  ).describe("Bucket name."),
  prefix: prefix(),
  endpoint: patterned(
    "^https?://[^\\s/]+(/[^\\s]*)?$",
    512,
    'must be a URL like "https://storage-psc.p.googleapis.com"',
  )
    .optional()
    .describe(
      "Endpoint of the JSON API of a GCS-compatible service, such as a Private Service Connect endpoint; " +
        "storage.googleapis.com when unset.",
    ),
  credentialsSecretRef: secretKeyRef("credentials.json", "Key holding the service account JSON key.")
    .optional()
    .describe("Secret with a service account key. When unset, Workload Identity is used (AUTH=implicit)."),
});

const PVCSchema = z.strictObject({
  claimName: objectName().describe("PersistentVolumeClaim in the same namespace."),
  path: z
    .string()
    .min(1)
    .max(512)
    .regex(new RegExp(RELATIVE_PATH), "must be a relative path without '..' segments")
    .default(".")
    .describe("Directory inside the volume; the volume root by default."),
});

/** The three kinds of storage, for kinds that extend a destination with more fields (Restore's location). */
export const destinationShape = {
  s3: S3Schema.optional().describe("Amazon S3 or an S3-compatible object store."),
  gcs: GCSSchema.optional().describe("Google Cloud Storage."),
  pvc: PVCSchema.optional().describe(
    "A PersistentVolumeClaim. The operator mounts it into the backup Job; use a ReadWriteMany volume if several " +
      "pods must reach it. For tests and small installations: a volume shares the fate of its cluster.",
  ),
};

type DestinationFields = { s3?: unknown; gcs?: unknown; pvc?: unknown };

export const exactlyOneDestination: Rule<DestinationFields> = {
  rule: "[has(self.s3), has(self.gcs), has(self.pvc)].filter(x, x).size() == 1",
  message: "set exactly one of s3, gcs or pvc",
  check: (d) => [d.s3, d.gcs, d.pvc].filter((x) => x !== undefined).length === 1,
};

export const DestinationSchema = withRules(z.strictObject(destinationShape), [exactlyOneDestination]);

export type Destination = z.output<typeof DestinationSchema>;
