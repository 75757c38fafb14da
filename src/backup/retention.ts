// Which backups a schedule's retention deletes. Pure: the caller lists Backups and running Restores, and deletes
// what this returns (the backup's objects when its deletionPolicy says so, then the Backup resource).
//
// Safety first: a backup goes only when every rule allows it (BackupSchedule's retention docs), the newest
// completed backup is never deleted (so a schedule whose backups start failing never ends with nothing), and a
// backup a running Restore reads from is never deleted under it.
import type { BackupPhase } from "../api/backup.ts";

export interface RetainedBackup {
  readonly name: string;
  readonly phase?: BackupPhase;
  /** When the backup completed or failed; RFC 3339. */
  readonly completedAt?: string;
  /** Where its objects are (status.location). */
  readonly location?: string;
}

export interface RetentionPolicy {
  /** Always keep the newest this many completed backups. */
  readonly keepLast?: number;
  /** Completed backups older than this (milliseconds) may go, unless keepLast keeps them. */
  readonly maxAgeMs?: number;
  /** Keep the newest this many failed backups for inspection; all when unset. */
  readonly failedHistoryLimit?: number;
}

export interface RetentionContext {
  /** Backup names or locations that running Restores read from. */
  readonly restoresInProgress?: readonly string[];
}

export interface RetentionDecision {
  readonly name: string;
  readonly reason: string;
}

export interface RetentionPlan {
  readonly delete: RetentionDecision[];
  readonly keep: RetentionDecision[];
}

export function planRetention(
  backups: readonly RetainedBackup[],
  policy: RetentionPolicy,
  now: Date,
  context: RetentionContext = {},
): RetentionPlan {
  const inUse = new Set(context.restoresInProgress ?? []);
  const plan: RetentionPlan = { delete: [], keep: [] };
  const decide = (backup: RetainedBackup, verdict: "delete" | "keep", reason: string) => {
    // A running restore overrides every rule that would delete.
    if (verdict === "delete" && (inUse.has(backup.name) || (backup.location && inUse.has(backup.location))))
      plan.keep.push({ name: backup.name, reason: "a running Restore reads from it" });
    else plan[verdict].push({ name: backup.name, reason });
  };

  // An undated completed backup is kept and does not count as the newest: the newest dated one keeps its guard.
  const completed = newestFirst(
    backups.filter((b) => b.phase === "Completed" && time(b.completedAt) !== undefined),
  );
  for (const undated of backups.filter((b) => b.phase === "Completed" && time(b.completedAt) === undefined))
    decide(undated, "keep", "it has no completion time");
  completed.forEach((backup, index) => {
    const [verdict, reason] = completedVerdict(backup, index, policy, now);
    decide(backup, verdict, reason);
  });

  const failed = newestFirst(backups.filter((b) => b.phase === "Failed"));
  failed.forEach((backup, index) => {
    const limit = policy.failedHistoryLimit;
    if (limit === undefined || index < limit)
      decide(backup, "keep", "failed backups are kept for inspection");
    else decide(backup, "delete", `not among the newest ${limit} failed backups`);
  });

  for (const backup of backups) {
    if (backup.phase !== "Completed" && backup.phase !== "Failed")
      decide(backup, "keep", "it has not finished");
  }
  return plan;
}

/** What the rules say about the completed backup at `index` in newest-first order. */
function completedVerdict(
  backup: RetainedBackup,
  index: number,
  policy: RetentionPolicy,
  now: Date,
): ["delete" | "keep", string] {
  if (index === 0) return ["keep", "the newest completed backup is always kept"];
  const completedAt = time(backup.completedAt) ?? now.getTime();
  if (policy.keepLast === undefined && policy.maxAgeMs === undefined)
    return ["keep", "no retention rule is set"];
  if (policy.keepLast !== undefined && index < policy.keepLast)
    return ["keep", `it is among the newest ${policy.keepLast} completed backups`];
  if (policy.maxAgeMs !== undefined && now.getTime() - completedAt <= policy.maxAgeMs)
    return ["keep", `it is younger than ${formatMs(policy.maxAgeMs)}`];
  const reasons = [
    ...(policy.keepLast === undefined ? [] : [`not among the newest ${policy.keepLast} completed backups`]),
    ...(policy.maxAgeMs === undefined ? [] : [`older than ${formatMs(policy.maxAgeMs)}`]),
  ];
  return ["delete", reasons.join(" and ")];
}

function time(value: string | undefined): number | undefined {
  const ms = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

// Undated entries sort as newest: an unknown age must never make a backup look old enough to delete.
function newestFirst(backups: RetainedBackup[]): RetainedBackup[] {
  const key = (b: RetainedBackup) => time(b.completedAt) ?? Number.POSITIVE_INFINITY;
  return [...backups].sort((a, b) => key(b) - key(a) || a.name.localeCompare(b.name));
}

function formatMs(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1000, "s"],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
