import { describe, expect, it } from "vitest";
import { jobName, jobOutcome, jobState, renderJob } from "../../../../src/controllers/backup/job.ts";

const owner = {
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "Backup",
  metadata: { name: "nightly-1767232800", namespace: "prod", uid: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0" },
};
const access = {
  host: "pg.prod.svc",
  port: 5432,
  database: "zitadel",
  sslMode: "verify-full",
  user: "postgres",
  passwordSecret: { name: "pg-admin", key: "password" },
  caSecret: { name: "pg-ca", key: "ca.crt" },
  masterkeySecret: { name: "zt-masterkey", key: "masterkey" },
};

describe("renderJob", () => {
  const job = renderJob({
    command: "backup",
    owner,
    name: jobName(owner),
    namespace: "prod",
    backupName: "nightly-1767232800",
    source: "zt",
    access,
    destination: {
      s3: {
        bucket: "b",
        prefix: "p",
        forcePathStyle: false,
        credentialsSecretRef: { name: "s3", accessKeyIDKey: "id", secretAccessKeyKey: "key" },
      },
    },
    args: ["--database=zitadel"],
    image: "example/op:1",
  }) as unknown as {
    metadata: { name: string; ownerReferences: { uid: string; controller: boolean }[] };
    spec: {
      backoffLimit: number;
      template: {
        spec: {
          containers: { args: string[]; env: { name: string; valueFrom?: unknown; value?: string }[] }[];
          volumes: { name: string }[];
        };
      };
    };
  };
  const container = job.spec.template.spec.containers[0];

  it("is named after the owner's uid, so a restarted operator finds the Job it made", () => {
    expect(job.metadata.name).toBe("nightly-1767232800-0b1c2d3e");
    expect(job.metadata.name.length).toBeLessThanOrEqual(63);
    expect(job.metadata.ownerReferences[0]).toMatchObject({ uid: owner.metadata.uid, controller: true });
  });

  it("gives every credential as a secretKeyRef and none as a flag", () => {
    const fromSecrets = container?.env.filter((e) => e.valueFrom !== undefined).map((e) => e.name);
    expect(fromSecrets).toEqual([
      "PGPASSWORD",
      "ZITADEL_MASTERKEY",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
    ]);
    expect(container?.env.find((e) => e.name === "AWS_SECRET_ACCESS_KEY")?.valueFrom).toEqual({
      secretKeyRef: { name: "s3", key: "key" },
    });
    expect(container?.args.join(" ")).not.toMatch(/password|secret/i);
  });

  it("runs `job backup` once, with the CA mounted and a work directory", () => {
    expect(container?.args.slice(0, 2)).toEqual(["job", "backup"]);
    expect(container?.args).toContain("--pg-ca-file=/etc/zitadel-operator/pg-ca/ca.crt");
    expect(container?.args).toContain("--s3-bucket=b");
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.template.spec.volumes.map((v) => v.name)).toEqual(["work", "pg-ca"]);
  });
});

describe("reading a Job's outcome", () => {
  const pod = (message: string | undefined, exitCode = 0) => ({
    status: {
      containerStatuses: [{ name: "job", state: { terminated: { exitCode, reason: "Completed", message } } }],
    },
  });

  it("parses the result line of the termination message", () => {
    expect(jobOutcome([pod('{"ok":true,"command":"backup","sizeBytes":5}')])).toMatchObject({
      ok: true,
      sizeBytes: 5,
    });
  });

  it("waits while the kubelet has not written it", () => {
    expect(jobOutcome([pod(undefined)])).toBeUndefined();
  });

  it("turns a message that is not a result line into a failure that says how the container ended", () => {
    expect(jobOutcome([pod("OOMKilled", 137)])).toMatchObject({
      ok: false,
      reason: "JobFailed",
      message: expect.stringContaining("exited with code 137"),
    });
  });

  it("tells running, succeeded and failed Jobs apart", () => {
    expect(jobState({ status: {} }).state).toBe("Running");
    expect(jobState({ status: { succeeded: 1, completionTime: "t" } })).toEqual({
      state: "Succeeded",
      at: "t",
    });
    expect(
      jobState({ status: { conditions: [{ type: "Failed", status: "True", lastTransitionTime: "f" }] } }),
    ).toEqual({ state: "Failed", at: "f" });
  });
});
