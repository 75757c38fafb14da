import { describe, expect, it } from "vitest";
import { parseResource } from "../../../src/api/index.ts";
import { restoreResource } from "../../../src/cli/restore.ts";

describe("restore: the Restore made from flags", () => {
  it("restores a database of a CockroachCluster backup at a point in time, and the result is a valid Restore", () => {
    const restore = restoreResource("iam", "r1", {
      backup: "nightly",
      cockroachCluster: "db",
      database: "app",
      newDatabase: "app_then",
      asOf: "2026-11-28T09:00:00Z",
    });
    expect(restore.spec).toEqual({
      backupRef: { name: "nightly" },
      target: { cockroachClusterRef: { name: "db" }, database: "app", newDatabaseName: "app_then" },
      asOf: "2026-11-28T09:00:00Z",
      overwrite: false,
    });
    expect(parseResource(restore).ok).toBe(true);
  });

  it("names the age identity Secret for a backup taken with another masterkey", () => {
    const restore = restoreResource("iam", "r2", {
      backup: "b",
      overwrite: true,
      ageIdentitySecret: "age-key",
    });
    expect(restore.spec).toMatchObject({ ageIdentitySecretRef: { name: "age-key" }, overwrite: true });
    expect(parseResource(restore).ok).toBe(true);
  });

  it("refuses two targets", () => {
    expect(() => restoreResource("iam", "r3", { backup: "b", zitadel: "z", cockroachCluster: "db" })).toThrow(
      /at most one/,
    );
  });
});
