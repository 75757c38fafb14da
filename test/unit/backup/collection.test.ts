import { describe, expect, it } from "vitest";
import { backupCollection } from "../../../src/backup/collection.ts";

const location = { namespace: "iam", source: "crdb", backupName: "nightly-1" };

describe("backupCollection", () => {
  it("puts CockroachDB's collection in the backup's own directory, credentials only in the URI", () => {
    const c = backupCollection(
      {
        s3: {
          bucket: "backups",
          prefix: "/prod/",
          endpoint: "http://127.0.0.1:9000",
          forcePathStyle: true,
          credentials: { accessKeyId: "AKIA", secretAccessKey: "s/e+c" },
        },
      },
      location,
    );
    expect(c.uri).toBe(
      "s3://backups/prod/iam/crdb/nightly-1?AWS_ACCESS_KEY_ID=AKIA&AWS_SECRET_ACCESS_KEY=s%2Fe%2Bc" +
        "&AWS_ENDPOINT=http%3A%2F%2F127.0.0.1%3A9000&AWS_USE_PATH_STYLE=true",
    );
    expect(c.description).toBe("s3://backups/prod/iam/crdb/nightly-1");
    expect(c.description).not.toContain("s/e+c");
  });

  it("uses ambient credentials without a Secret, and GCS the same way", () => {
    expect(backupCollection({ s3: { bucket: "b" } }, location).uri).toBe(
      "s3://b/iam/crdb/nightly-1?AUTH=implicit",
    );
    const gcs = backupCollection({ gcs: { bucket: "g", prefix: "x", credentialsJson: "{}" } }, location);
    expect(gcs.uri).toBe(
      `gs://g/x/iam/crdb/nightly-1?AUTH=specified&CREDENTIALS=${encodeURIComponent(Buffer.from("{}").toString("base64"))}`,
    );
    expect(gcs.description).toBe("gs://g/x/iam/crdb/nightly-1");
  });

  it("refuses a PVC: CockroachDB's nodes, not the Job, write the files", () => {
    expect(() => backupCollection({}, location)).toThrow(/not a PVC/);
  });
});
