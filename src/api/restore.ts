import { z } from "zod";
import { withRules } from "./annotations.ts";
import { commonStatusFields } from "./conditions.ts";
import { destinationShape, exactlyOneDestination } from "./destination.ts";
import { DNS1123_SUBDOMAIN, sqlIdentifier, timestamp } from "./formats.ts";
import { AGE_COLUMN, defineKind, REASON_COLUMN } from "./kind.ts";
import { localRef, secretKeyRef } from "./refs.ts";

const LocationSchema = withRules(
  z.strictObject({
    ...destinationShape,
    backup: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[A-Za-z0-9._/-]+$/, "must be a backup subdirectory like 2025/01/02-030405.00")
      .optional()
      .describe("Which backup of the collection, such as 2025/01/02-030405.00; the latest when unset."),
  }),
  [exactlyOneDestination],
);

const TargetSchema = withRules(
  z.strictObject({
    cockroachClusterRef: localRef("CockroachCluster")
      .optional()
      .describe("Restore into this CockroachCluster. Defaults to the backed-up cluster with backupRef."),
    zitadelRef: localRef("Zitadel")
      .optional()
      .describe(
        "Restore into the database of this Zitadel. Defaults to the backed-up Zitadel with backupRef.",
      ),
    database: sqlIdentifier()
      .optional()
      .describe(
        "Database to restore from the backup. Unset restores what the backup holds; for a whole-cluster backup " +
          "that is a full cluster restore, which needs a cluster without user data.",
      ),
    newDatabaseName: sqlIdentifier()
      .optional()
      .describe(
        "Restore under this name instead, next to the live database: the safe way to inspect a backup or to " +
          "recover selected data.",
      ),
  }),
  [
    {
      rule: "!(has(self.cockroachClusterRef) && has(self.zitadelRef))",
      message: "set at most one of cockroachClusterRef or zitadelRef",
      check: (t) => t.cockroachClusterRef === undefined || t.zitadelRef === undefined,
    },
  ],
);

export const RestoreSpecSchema = withRules(
  z.strictObject({
    backupRef: localRef("Backup").optional().describe("Completed Backup to restore."),
    location: LocationSchema.optional().describe(
      "Backup files to restore when no Backup object exists, e.g. after losing the cluster: the destination a " +
        "Backup wrote to, plus which backup.",
    ),
    asOf: timestamp()
      .optional()
      .describe(
        "Restore the state at this time (RFC 3339) instead of the backup's own: only from a CockroachDB backup " +
          "taken with revisionHistory, and only within the window it kept. Fails with AsOfUnsupported otherwise.",
      ),
    target: TargetSchema.optional().describe("Where to restore to."),
    overwrite: z
      .boolean()
      .default(false)
      .describe(
        "Allow replacing an existing database of the same name; the restore fails with reason TargetExists " +
          "otherwise. ZITADEL pods using it are scaled to zero during the restore.",
      ),
    ageIdentitySecretRef: secretKeyRef(
      "identity",
      "Key holding the age identity (AGE-SECRET-KEY-1...); several identities may be given, one per line.",
    )
      .optional()
      .describe(
        "The age identity that decrypts the backup's masterkey.age. Needed only when the backup was taken with " +
          "another masterkey than the target Zitadel's current one. An in-place restore with overwrite then " +
          "replaces the Zitadel's operator-generated masterkey Secret with the backup's key (keeping the old key in " +
          "<zitadel>-masterkey-before-<restore>); a restore under newDatabaseName leaves the key as it is.",
      ),
  }),
  [
    {
      rule: "has(self.backupRef) != has(self.location)",
      message: "set exactly one of backupRef or location",
      check: (s) => (s.backupRef === undefined) !== (s.location === undefined),
    },
    {
      rule: "!has(self.location) || (has(self.target) && (has(self.target.cockroachClusterRef) || has(self.target.zitadelRef)))",
      message: "restoring from a location needs target.cockroachClusterRef or target.zitadelRef",
      fieldPath: ".target",
      check: (s) =>
        s.location === undefined ||
        s.target?.cockroachClusterRef !== undefined ||
        s.target?.zitadelRef !== undefined,
    },
    {
      rule: "self == oldSelf",
      message: "a Restore is a one-time operation: create a new Restore instead of changing this one",
    },
  ],
);

export const RESTORE_PHASES = ["Pending", "Running", "Completed", "Failed"] as const;

export const RestoreStatusSchema = z.object({
  ...commonStatusFields,
  phase: z.enum(RESTORE_PHASES).optional().describe("Pending, Running, Completed or Failed."),
  startedAt: timestamp().optional().describe("When the restore started."),
  completedAt: timestamp().optional().describe("When the restore completed or failed."),
  restoredFrom: z.string().max(2048).optional().describe("Location of the backup that was restored."),
  restoredDatabase: z.string().max(63).optional().describe("Database that now holds the restored data."),
  jobName: z.string().max(253).optional().describe("Job that runs or ran the restore."),
  error: z.string().max(4096).optional().describe("Why the restore failed."),
});

export const RestoreKind = defineKind({
  kind: "Restore",
  plural: "restores",
  shortNames: ["rst"],
  description:
    "One restore of a backup into a CockroachCluster or a Zitadel's database. Refuses to replace a live " +
    "database unless overwrite is set. Its spec cannot change once created.",
  name: {
    pattern: DNS1123_SUBDOMAIN,
    maxLength: 52,
    reason: "the name plus a suffix becomes the restore Job's name, which is at most 63 characters",
  },
  spec: RestoreSpecSchema,
  status: RestoreStatusSchema,
  printerColumns: [
    {
      name: "Phase",
      type: "string",
      jsonPath: ".status.phase",
      description: "Pending, Running, Completed or Failed.",
    },
    {
      name: "Database",
      type: "string",
      jsonPath: ".status.restoredDatabase",
      description: "Restored database.",
    },
    { name: "Completed", type: "date", jsonPath: ".status.completedAt", description: "When it finished." },
    REASON_COLUMN,
    AGE_COLUMN,
  ],
});

export const RestoreSchema = RestoreKind.schema;
export type RestoreSpec = z.output<typeof RestoreSpecSchema>;
export type RestoreStatus = z.output<typeof RestoreStatusSchema>;
export type Restore = z.output<typeof RestoreSchema>;
