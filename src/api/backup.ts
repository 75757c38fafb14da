import { z } from "zod";
import { withRules } from "./annotations.ts";
import { commonStatusFields } from "./conditions.ts";
import { DestinationSchema } from "./destination.ts";
import { DNS1123_SUBDOMAIN, sqlIdentifier, timestamp } from "./formats.ts";
import { AGE_COLUMN, defineKind, REASON_COLUMN } from "./kind.ts";
import { localRef } from "./refs.ts";

const SourceSchema = withRules(
  z.strictObject({
    cockroachClusterRef: localRef("CockroachCluster")
      .optional()
      .describe("Back up this CockroachCluster (BACKUP INTO): the whole cluster, or one database."),
    database: sqlIdentifier()
      .optional()
      .describe("With cockroachClusterRef: back up only this database. The whole cluster when unset."),
    zitadelRef: localRef("Zitadel")
      .optional()
      .describe(
        "Back up the database of this Zitadel, whichever engine it uses (BACKUP DATABASE, or pg_dump).",
      ),
  }),
  [
    {
      rule: "has(self.cockroachClusterRef) != has(self.zitadelRef)",
      message: "set exactly one of cockroachClusterRef or zitadelRef",
      check: (s) => (s.cockroachClusterRef === undefined) !== (s.zitadelRef === undefined),
    },
    {
      rule: "!has(self.database) || has(self.cockroachClusterRef)",
      message: "database only applies with cockroachClusterRef; a Zitadel's database is known",
      fieldPath: ".database",
      check: (s) => s.database === undefined || s.cockroachClusterRef !== undefined,
    },
  ],
);

/** What to back up and where to: a Backup's spec, and the template of a BackupSchedule. */
export const BackupSpecSchema = withRules(
  z.strictObject({
    source: SourceSchema.describe("What to back up: exactly one of cockroachClusterRef or zitadelRef."),
    destination: DestinationSchema.describe("Where to write the backup: exactly one of s3, gcs or pvc."),
    verify: z
      .boolean()
      .default(false)
      .describe(
        "Check the backup after writing it: SHOW BACKUP ... WITH check_files on CockroachDB, pg_restore --list on " +
          "PostgreSQL. The result is in status.verification.",
      ),
    masterkeyRecipients: z
      .array(
        z
          .string()
          .max(4096)
          .regex(/^age1[0-9a-z]+$/, "must be an age recipient (public key) like age1...")
          .describe("An age recipient (public key, age1...)."),
      )
      .max(16)
      .optional()
      .describe(
        "age recipients the ZITADEL masterkey is encrypted to and stored next to each backup of a Zitadel " +
          "(masterkey.age). Whoever restores after losing the cluster needs one of the matching identities; the " +
          "operator only ever holds these public keys. Required for a zitadelRef source: a backup whose masterkey " +
          "nobody can recover is not taken.",
      ),
    revisionHistory: z
      .boolean()
      .default(false)
      .describe(
        "CockroachDB only: BACKUP ... WITH revision_history, which keeps every revision within the garbage " +
          "collection window (gc.ttlseconds) before the backup, so a Restore can choose a point in time in that " +
          "window (spec.asOf). A PostgreSQL backup with it fails with reason RevisionHistoryUnsupported.",
      ),
    deletionPolicy: z
      .enum(["Retain", "Delete"])
      .default("Retain")
      .describe(
        "Whether deleting this Backup (by hand or by a schedule's retention) also deletes the backup files. Retain " +
          "keeps them. The only field that can change after creation.",
      ),
  }),
  [
    {
      // Refused at admission rather than failed at run time: such a backup would be useless after losing the cluster.
      rule: "!has(self.source.zitadelRef) || (has(self.masterkeyRecipients) && size(self.masterkeyRecipients) > 0)",
      message:
        "a Zitadel's backup needs masterkeyRecipients: its masterkey travels with it, encrypted to these age public keys",
      fieldPath: ".masterkeyRecipients",
      check: (s) => s.source.zitadelRef === undefined || (s.masterkeyRecipients ?? []).length > 0,
    },
  ],
);

// A Backup records one run: what it backed up must not change afterwards.
const BackupOnlySpecSchema = withRules(BackupSpecSchema, [
  {
    rule:
      "self.source == oldSelf.source && self.destination == oldSelf.destination && self.verify == oldSelf.verify && " +
      "self.revisionHistory == oldSelf.revisionHistory",
    message: "a Backup records one run: only deletionPolicy can change; create a new Backup instead",
  },
]);

export const BACKUP_PHASES = ["Pending", "Running", "Completed", "Failed"] as const;

export const BackupStatusSchema = z.object({
  ...commonStatusFields,
  phase: z.enum(BACKUP_PHASES).optional().describe("Pending, Running, Completed or Failed."),
  engine: z.enum(["CockroachDB", "PostgreSQL"]).optional().describe("Database engine that was backed up."),
  startedAt: timestamp().optional().describe("When the backup started."),
  completedAt: timestamp().optional().describe("When the backup completed or failed."),
  asOf: timestamp().optional().describe("The consistent point in time the backup captures."),
  sizeBytes: z.int().min(0).optional().describe("Size of the written backup."),
  location: z
    .string()
    .max(2048)
    .optional()
    .describe("Where the backup is, such as s3://bucket/prefix/2025/01/02-030405.00; what a Restore reads."),
  jobName: z.string().max(253).optional().describe("Job that runs or ran the backup."),
  error: z.string().max(4096).optional().describe("Why the backup failed."),
  verification: z
    .object({
      result: z.enum(["Passed", "Failed"]).describe("Outcome of the check."),
      checkedAt: timestamp().describe("When the check ran."),
      message: z.string().max(4096).optional().describe("Details, such as the files found missing."),
    })
    .optional()
    .describe("Result of spec.verify."),
});

export const BackupKind = defineKind({
  kind: "Backup",
  plural: "backups",
  shortNames: ["bk"],
  description:
    "One backup run of a CockroachCluster or of a Zitadel's database. Created by hand (e.g. before an upgrade) " +
    "or by a BackupSchedule. Its spec cannot change once created.",
  name: {
    pattern: DNS1123_SUBDOMAIN,
    maxLength: 52,
    reason: "the name plus a suffix becomes the backup Job's name, which is at most 63 characters",
  },
  spec: BackupOnlySpecSchema,
  status: BackupStatusSchema,
  printerColumns: [
    {
      name: "Phase",
      type: "string",
      jsonPath: ".status.phase",
      description: "Pending, Running, Completed or Failed.",
    },
    { name: "Size", type: "integer", jsonPath: ".status.sizeBytes", description: "Bytes written." },
    { name: "Completed", type: "date", jsonPath: ".status.completedAt", description: "When it finished." },
    {
      name: "Location",
      type: "string",
      jsonPath: ".status.location",
      description: "Where the backup is.",
      priority: 1,
    },
    REASON_COLUMN,
    AGE_COLUMN,
  ],
});

export const BackupSchema = BackupKind.schema;
export type BackupSpec = z.output<typeof BackupSpecSchema>;
export type BackupStatus = z.output<typeof BackupStatusSchema>;
export type BackupPhase = (typeof BACKUP_PHASES)[number];
export type Backup = z.output<typeof BackupSchema>;
