import { describe, expect, it } from "vitest";
import { type BackupTiming, nextBackupTime } from "../../../../src/api/backupschedule.ts";
import { parseCron } from "../../../../src/api/cron.ts";
import {
  decide,
  type ScheduleInput,
  scheduledBackupName,
} from "../../../../src/controllers/backupschedule/decide.ts";

const created = new Date("2026-01-01T00:00:00Z");
const nightly = (() => {
  const parsed = parseCron("0 2 * * *");
  if (!parsed.ok) throw new Error(parsed.error);
  return { cron: parsed.schedule } satisfies BackupTiming;
})();

function input(over: Partial<ScheduleInput>): ScheduleInput {
  return {
    now: new Date("2026-01-01T01:00:00Z"),
    created,
    timing: nightly,
    suspend: false,
    immediate: false,
    missedRuns: "RunOnce",
    lastScheduleTime: undefined,
    running: () => undefined,
    backupName: (slot) => scheduledBackupName("nightly", slot),
    ...over,
  };
}

describe("decide", () => {
  it("starts nothing before the first scheduled time and says when it comes", () => {
    const d = decide(input({}));
    expect(d.run).toBeUndefined();
    expect(d.next?.toISOString()).toBe("2026-01-01T02:00:00.000Z");
  });

  it("starts the Backup of a scheduled time that just came, named after it", () => {
    const d = decide(input({ now: new Date("2026-01-01T02:00:01Z") }));
    expect(d.run).toEqual({
      slot: new Date("2026-01-01T02:00:00Z"),
      name: `nightly-${Date.parse("2026-01-01T02:00:00Z") / 1000}`,
      catchUp: false,
    });
    expect(d.lastScheduleTime?.toISOString()).toBe("2026-01-01T02:00:00.000Z");
  });

  it("never acts on a scheduled time twice", () => {
    const d = decide(
      input({ now: new Date("2026-01-01T02:00:30Z"), lastScheduleTime: new Date("2026-01-01T02:00:00Z") }),
    );
    expect(d.run).toBeUndefined();
    expect(d.skipped).toBeUndefined();
  });

  it("runs once on creation with immediate", () => {
    const d = decide(input({ immediate: true, now: new Date("2026-01-01T00:00:02Z") }));
    expect(d.run?.slot).toEqual(created);
  });

  it("skips a scheduled time while another Backup runs (Forbid)", () => {
    const d = decide(input({ now: new Date("2026-01-01T02:00:01Z"), running: () => "nightly-1" }));
    expect(d.run).toBeUndefined();
    expect(d.skipped?.why).toContain("Backup nightly-1 is still running");
    expect(d.lastScheduleTime?.toISOString()).toBe("2026-01-01T02:00:00.000Z");
  });

  it("the Backup of the due time itself, made before a restart, is no other run to wait for", () => {
    const d = decide(
      input({
        now: new Date("2026-01-01T02:00:01Z"),
        running: (slotName) =>
          slotName === scheduledBackupName("nightly", new Date("2026-01-01T02:00:00Z")) ? undefined : "x",
      }),
    );
    expect(d.run?.name).toBe(scheduledBackupName("nightly", new Date("2026-01-01T02:00:00Z")));
  });

  it("catches up with one Backup, for the newest missed time, after downtime (RunOnce)", () => {
    const d = decide(
      input({ now: new Date("2026-01-04T03:00:00Z"), lastScheduleTime: new Date("2026-01-01T02:00:00Z") }),
    );
    expect(d.run).toMatchObject({ slot: new Date("2026-01-04T02:00:00Z"), catchUp: true });
  });

  it("skips missed times with missedRuns Skip and waits for the next", () => {
    const d = decide(
      input({
        now: new Date("2026-01-04T03:00:00Z"),
        lastScheduleTime: new Date("2026-01-01T02:00:00Z"),
        missedRuns: "Skip",
      }),
    );
    expect(d.run).toBeUndefined();
    expect(d.skipped?.why).toContain("3 scheduled run(s) were missed");
    expect(d.lastScheduleTime?.toISOString()).toBe("2026-01-04T02:00:00.000Z");
  });

  it("starts nothing while suspended, and keeps the missed times for RunOnce after resuming", () => {
    const suspended = decide(input({ suspend: true, now: new Date("2026-01-03T03:00:00Z") }));
    expect(suspended).toEqual({ lastScheduleTime: undefined, next: undefined });
    const resumed = decide(input({ now: new Date("2026-01-03T03:00:00Z") }));
    expect(resumed.run).toMatchObject({ slot: new Date("2026-01-03T02:00:00Z"), catchUp: true });
  });
});

describe("nextBackupTime with an interval", () => {
  const every10s = { intervalMs: 10_000, origin: created };
  it("counts from the schedule's creation, strictly after the given time", () => {
    expect(nextBackupTime(every10s, created)?.toISOString()).toBe("2026-01-01T00:00:10.000Z");
    expect(nextBackupTime(every10s, new Date("2026-01-01T00:00:10Z"))?.toISOString()).toBe(
      "2026-01-01T00:00:20.000Z",
    );
    expect(nextBackupTime(every10s, new Date("2025-12-31T00:00:00Z"))?.toISOString()).toBe(
      "2026-01-01T00:00:10.000Z",
    );
  });
});
