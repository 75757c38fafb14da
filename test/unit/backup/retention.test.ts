import { describe, expect, it } from "vitest";
import { planRetention, type RetainedBackup } from "../../../src/backup/retention.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-03-01T00:00:00Z");
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();
const completed = (name: string, days: number): RetainedBackup => ({
  name,
  phase: "Completed",
  completedAt: daysAgo(days),
  location: `zitadel/prod/${name}/`,
});
const names = (decisions: { name: string }[]) => decisions.map((d) => d.name).sort();

describe("planRetention", () => {
  const five = [0, 1, 2, 3, 4].map((d) => completed(`b${d}`, d));

  it("keeps the newest keepLast completed backups and deletes the rest", () => {
    const plan = planRetention(five, { keepLast: 2 }, NOW);
    expect(names(plan.delete)).toEqual(["b2", "b3", "b4"]);
    expect(plan.delete[0]?.reason).toBe("not among the newest 2 completed backups");
  });

  it("deletes only backups older than maxAge", () => {
    expect(names(planRetention(five, { maxAgeMs: 2 * DAY }, NOW).delete)).toEqual(["b3", "b4"]);
  });

  it("deletes a backup only when both rules allow it", () => {
    const plan = planRetention(five, { keepLast: 4, maxAgeMs: 1 * DAY }, NOW);
    expect(names(plan.delete)).toEqual(["b4"]);
    expect(plan.delete[0]?.reason).toBe("not among the newest 4 completed backups and older than 1d");
  });

  it("never deletes the newest completed backup, however old", () => {
    const old = [completed("only", 400), { name: "f", phase: "Failed" as const, completedAt: daysAgo(1) }];
    const plan = planRetention(old, { maxAgeMs: DAY }, NOW);
    expect(plan.delete).toEqual([]);
    expect(plan.keep).toContainEqual({ name: "only", reason: "the newest completed backup is always kept" });
  });

  it("never deletes a backup a running restore reads from, named or by location", () => {
    const plan = planRetention(five, { keepLast: 1 }, NOW, {
      restoresInProgress: ["b2", "zitadel/prod/b4/"],
    });
    expect(names(plan.delete)).toEqual(["b1", "b3"]);
    expect(plan.keep).toContainEqual({ name: "b2", reason: "a running Restore reads from it" });
    expect(plan.keep).toContainEqual({ name: "b4", reason: "a running Restore reads from it" });
  });

  it("keeps running and pending backups, and backups without a completion time, which never count as newest", () => {
    const backups: RetainedBackup[] = [
      ...five,
      { name: "running", phase: "Running" },
      { name: "pending" },
      { name: "undated", phase: "Completed" },
    ];
    const plan = planRetention(backups, { keepLast: 1, maxAgeMs: 0 }, NOW);
    expect(names(plan.keep)).toEqual(["b0", "pending", "running", "undated"]);
    expect(names(plan.delete)).toEqual(["b1", "b2", "b3", "b4"]);
  });

  it("keeps the newest failedHistoryLimit failed backups, all when unset", () => {
    const failed = [1, 2, 3].map((d) => ({
      name: `f${d}`,
      phase: "Failed" as const,
      completedAt: daysAgo(d),
    }));
    expect(
      names(planRetention([...five, ...failed], { keepLast: 10, failedHistoryLimit: 1 }, NOW).delete),
    ).toEqual(["f2", "f3"]);
    expect(planRetention(failed, { keepLast: 1 }, NOW).delete).toEqual([]);
  });

  it("keeps everything when no rule is set", () => {
    expect(planRetention(five, {}, NOW).delete).toEqual([]);
  });
});
