import { describe, expect, it } from "vitest";
import { parseResource } from "../../../src/api/index.ts";
import { type BackupFlags, backupResource } from "../../../src/cli/backup.ts";
import type { KubeClient } from "../../../src/runtime/kube.ts";

// Flags alone never reach the cluster: only --from-schedule reads the schedule.
const noClient = {} as KubeClient;
const make = (flags: Partial<BackupFlags>) =>
  backupResource(noClient, "iam", "b1", { ageRecipient: [], ...flags } as BackupFlags);

describe("backup create: the Backup made from flags", () => {
  it("backs up a CockroachCluster, or one of its databases, to GCS, and the result is a valid Backup", async () => {
    const backup = await make({
      cockroachCluster: "db",
      database: "app",
      gcsBucket: "backups",
      gcsPrefix: "crdb",
      gcsCredentialsSecret: "gcs-key",
    });
    expect(backup.spec).toEqual({
      source: { cockroachClusterRef: { name: "db" }, database: "app" },
      destination: { gcs: { bucket: "backups", prefix: "crdb", credentialsSecretRef: { name: "gcs-key" } } },
    });
    expect(parseResource(backup).ok).toBe(true);
  });

  it("refuses two sources or two destinations", async () => {
    await expect(make({ zitadel: "z", cockroachCluster: "db", s3Bucket: "b" })).rejects.toThrow(/--zitadel/);
    await expect(make({ zitadel: "z", s3Bucket: "b", gcsBucket: "g" })).rejects.toThrow(/exactly one/);
    await expect(make({ zitadel: "z" })).rejects.toThrow(/exactly one/);
  });
});
