import { describe, expect, it } from "vitest";
import type { JobObject, PodObject } from "../../../../src/controllers/backup/job.ts";
import { jobFacts } from "../../../../src/controllers/restore/deletion.ts";

const job = (status: JobObject["status"]): JobObject => ({ apiVersion: "batch/v1", kind: "Job", status });
const pod = (message: string | undefined): PodObject => ({
  status: {
    containerStatuses: [
      { name: "job", state: { terminated: { exitCode: 0, finishedAt: "2026-01-01T00:00:00Z", message } } },
    ],
  },
});
const succeeded = job({ succeeded: 1, conditions: [{ type: "Complete", status: "True" }] });

// jobFacts decides whether a deleted Restore puts the backup's masterkey in place: only a Job that reported
// success counts, every doubt keeps the Zitadel's own key.
describe("jobFacts", () => {
  it("counts only a succeeded Job with a successful result line as a restore that happened", () => {
    const ok = jobFacts(succeeded, [pod(JSON.stringify({ ok: true, command: "restore" }))], true);
    expect(ok.succeeded).toBe(true);
    expect(ok.phrase).toContain("holds the backup");
  });

  it("does not count a Job that ended without a result, is still running, failed or is gone", () => {
    const cases = [
      jobFacts(succeeded, [pod(undefined)], true),
      jobFacts(job({}), [], true),
      jobFacts(job({ conditions: [{ type: "Failed", status: "True" }] }), [], true),
      jobFacts(succeeded, [pod(JSON.stringify({ ok: false, reason: "TablesDiffer" }))], true),
      jobFacts(undefined, [], true),
      jobFacts(undefined, [], false),
    ];
    expect(cases.map((c) => c.succeeded)).toEqual([false, false, false, false, false, false]);
    expect(cases.map((c) => c.phrase)).toEqual([
      expect.stringContaining("without reporting a result"),
      expect.stringContaining("had not finished"),
      expect.stringContaining("failed (JobFailed)"),
      expect.stringContaining("failed (TablesDiffer)"),
      expect.stringContaining("already gone"),
      expect.stringContaining("had not started"),
    ]);
  });
});
