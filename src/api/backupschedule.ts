import { z } from "zod";
import { withRules } from "./annotations.ts";
import { BackupSpecSchema } from "./backup.ts";
import { commonStatusFields } from "./conditions.ts";
import { type CronSchedule, crontab, nextRun } from "./cron.ts";
import { duration } from "./duration.ts";
import { DNS1123_LABEL, timestamp } from "./formats.ts";
import { AGE_COLUMN, defineKind, READY_COLUMN, REASON_COLUMN } from "./kind.ts";

/**
 * When the next run of a schedule comes, strictly after `after`: the cron schedule, or every `interval` counted
 * from `origin` (the schedule's creation). Undefined when there is none within five years.
 */
export type BackupTiming = { cron: CronSchedule } | { intervalMs: number; origin: Date };

export function nextBackupTime(when: BackupTiming, after: Date): Date | undefined {
  if ("cron" in when) return nextRun(when.cron, after);
  const k = Math.floor((after.getTime() - when.origin.getTime()) / when.intervalMs) + 1;
  return new Date(when.origin.getTime() + Math.max(k, 1) * when.intervalMs);
}

const RetentionSchema = withRules(
  z.strictObject({
    keepLast: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe("Always keep the newest this many completed backups, however old."),
    maxAge: duration("1h")
      .optional()
      .describe("Delete completed backups older than this, such as 30d, unless keepLast protects them."),
  }),
  [
    {
      rule: "has(self.keepLast) || has(self.maxAge)",
      message: "set keepLast, maxAge or both",
      check: (r) => r.keepLast !== undefined || r.maxAge !== undefined,
    },
  ],
);

export const BackupScheduleSpecSchema = withRules(
  z.strictObject({
    schedule: crontab()
      .optional()
      .describe(
        'When to back up, as 5-field cron in UTC ("minute hour day-of-month month day-of-week"), such as ' +
          '"0 2 * * *", or @hourly, @daily, @weekly, @monthly, @yearly. Set schedule or interval.',
      ),
    interval: duration("1s")
      .optional()
      .describe(
        "Instead of schedule: back up every this long, counted from the schedule's creation, such as 6h. Cron has " +
          "minutes at the finest; this also takes seconds (10s), for tests and demonstrations of a schedule.",
      ),
    suspend: z.boolean().default(false).describe("Stop starting new backups; running ones finish."),
    immediate: z.boolean().default(false).describe("Also take a backup as soon as the schedule is created."),
    concurrencyPolicy: z
      .enum(["Forbid"])
      .default("Forbid")
      .describe("A run is skipped while the previous backup still runs. Forbid is the only policy."),
    missedRuns: z
      .enum(["Skip", "RunOnce"])
      .default("RunOnce")
      .describe(
        "What to do about runs missed while the operator was down or the schedule suspended: RunOnce takes one " +
          "backup to catch up, Skip waits for the next scheduled time.",
      ),
    retention: RetentionSchema.optional().describe(
      "Which completed Backups to delete (with their files if their deletionPolicy is Delete). Keeps all when unset. " +
        "A backup goes only when both rules allow, so backups that stop succeeding never delete the last good ones.",
    ),
    failedBackupsHistoryLimit: z
      .int()
      .min(0)
      .max(100)
      .default(3)
      .describe("How many failed Backups to keep for inspection."),
    template: BackupSpecSchema.describe("Spec of each Backup the schedule creates."),
  }),
  [
    {
      rule: "has(self.schedule) != has(self.interval)",
      message: "set exactly one of schedule or interval",
      check: (s) => (s.schedule === undefined) !== (s.interval === undefined),
    },
  ],
);

export const BackupScheduleStatusSchema = z.object({
  ...commonStatusFields,
  lastScheduleTime: timestamp()
    .optional()
    .describe(
      "The last scheduled time the schedule acted on (started a backup, or skipped it); runs up to it never " +
        "happen again, also after an operator restart.",
    ),
  nextScheduleTime: timestamp().optional().describe("When the next backup will start."),
  lastSuccessfulBackup: z.string().max(253).optional().describe("Name of the newest completed Backup."),
  lastSuccessfulTime: timestamp().optional().describe("When the newest completed Backup finished."),
  active: z.string().max(253).optional().describe("Name of the Backup that is running now."),
});

export const BackupScheduleKind = defineKind({
  kind: "BackupSchedule",
  plural: "backupschedules",
  shortNames: ["bks"],
  description: "Creates Backups on a cron schedule and deletes old ones according to its retention.",
  name: {
    pattern: DNS1123_LABEL,
    maxLength: 40,
    reason: "Backups are named <schedule>-<timestamp> and their Jobs add a suffix",
  },
  spec: BackupScheduleSpecSchema,
  status: BackupScheduleStatusSchema,
  printerColumns: [
    READY_COLUMN,
    { name: "Schedule", type: "string", jsonPath: ".spec.schedule", description: "Cron schedule." },
    { name: "Suspend", type: "boolean", jsonPath: ".spec.suspend", description: "Whether it is suspended." },
    {
      name: "Last",
      type: "date",
      jsonPath: ".status.lastSuccessfulTime",
      description: "Newest completed backup.",
    },
    {
      name: "Next",
      type: "date",
      jsonPath: ".status.nextScheduleTime",
      description: "Next run.",
      priority: 1,
    },
    REASON_COLUMN,
    AGE_COLUMN,
  ],
});

export const BackupScheduleSchema = BackupScheduleKind.schema;
export type BackupScheduleSpec = z.output<typeof BackupScheduleSpecSchema>;
export type BackupScheduleStatus = z.output<typeof BackupScheduleStatusSchema>;
export type BackupSchedule = z.output<typeof BackupScheduleSchema>;
