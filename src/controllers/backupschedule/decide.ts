// When a BackupSchedule starts a Backup. Pure: the controller gives it the clock, the schedule and what exists.
//
// Restart safety rests on two things: status.lastScheduleTime (the last scheduled time acted on, written after
// the Backup was created) and the Backup's name, <schedule>-<unix seconds of the scheduled time>. An operator
// that dies between creating the Backup and writing the status finds the same slot due again, creates the same
// name, gets 409 and only writes the status: one scheduled time never makes two Backups.
//
// Missed runs: a slot is "on time" when it is the only one due and at most MISSED_AFTER_MS old. Several due slots
// (the operator was down, or the schedule suspended) are missed: RunOnce starts one Backup for the newest of them,
// Skip starts none and waits for the next. Concurrency is Forbid: a slot that comes while a Backup of the schedule
// still runs is skipped, not queued.
import { type BackupTiming, nextBackupTime } from "../../api/backupschedule.ts";

export const MISSED_AFTER_MS = 60_000;
/** Enough for a seconds schedule over a day of downtime; beyond this the walk stops at "many missed". */
const MAX_SLOTS = 200_000;

export interface ScheduleInput {
  now: Date;
  /** The schedule's creationTimestamp: nothing before it is ever due. */
  created: Date;
  timing: BackupTiming;
  suspend: boolean;
  immediate: boolean;
  missedRuns: "Skip" | "RunOnce";
  lastScheduleTime: Date | undefined;
  /** Whether another Backup of this schedule is still Pending or Running. */
  running: (slotBackupName: string) => string | undefined;
  backupName: (slot: Date) => string;
}

export interface ScheduleDecision {
  /** Start a Backup for this scheduled time. */
  run?: { slot: Date; name: string; catchUp: boolean };
  /** A due slot that starts nothing, and why (for an Event). */
  skipped?: { slot: Date; why: string };
  /** status.lastScheduleTime after this decision. */
  lastScheduleTime: Date | undefined;
  /** The next scheduled time after now; undefined while suspended. */
  next: Date | undefined;
}

export function decide(input: ScheduleInput): ScheduleDecision {
  const { now } = input;
  const next = input.suspend ? undefined : nextBackupTime(input.timing, now);
  if (input.suspend) return { lastScheduleTime: input.lastScheduleTime, next };

  if (input.lastScheduleTime === undefined && input.immediate) {
    const slot = new Date(Math.floor(input.created.getTime() / 1000) * 1000);
    return { run: { slot, name: input.backupName(slot), catchUp: false }, lastScheduleTime: slot, next };
  }

  const from = input.lastScheduleTime ?? input.created;
  let latest: Date | undefined;
  let due = 0;
  for (let t = nextBackupTime(input.timing, from); t !== undefined && t <= now && due < MAX_SLOTS; ) {
    latest = t;
    due++;
    t = nextBackupTime(input.timing, t);
  }
  if (latest === undefined) return { lastScheduleTime: input.lastScheduleTime, next };

  const missed = due > 1 || now.getTime() - latest.getTime() > MISSED_AFTER_MS;
  if (missed && input.missedRuns === "Skip") {
    return {
      skipped: { slot: latest, why: `${due} scheduled run(s) were missed and missedRuns is Skip` },
      lastScheduleTime: latest,
      next,
    };
  }
  const name = input.backupName(latest);
  const running = input.running(name);
  if (running !== undefined) {
    return {
      skipped: { slot: latest, why: `Backup ${running} is still running (concurrencyPolicy Forbid)` },
      lastScheduleTime: latest,
      next,
    };
  }
  return { run: { slot: latest, name, catchUp: missed }, lastScheduleTime: latest, next };
}

/** <schedule>-<unix seconds of the scheduled time>: at most 40 + 1 + 10 characters, within a Backup's 52. */
export function scheduledBackupName(schedule: string, slot: Date): string {
  return `${schedule}-${Math.floor(slot.getTime() / 1000)}`;
}
