// The Job for a GCS destination: where the store is comes as flags, the service account key only as a secretKeyRef.
import { describe, expect, it } from "vitest";
import { DestinationSchema } from "../../../../src/api/destination.ts";
import { jobName, renderJob, unsupportedDestination } from "../../../../src/controllers/backup/job.ts";

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
  masterkeySecret: { name: "zt-masterkey", key: "masterkey" },
};

type Container = { args: string[]; env: { name: string; valueFrom?: unknown; value?: string }[] };

function render(gcs: Record<string, unknown>): { container: Container; spec: string } {
  const destination = DestinationSchema.parse({ gcs });
  const job = renderJob({
    command: "backup",
    owner,
    name: jobName(owner),
    namespace: "prod",
    backupName: "nightly-1767232800",
    source: "zt",
    access,
    destination,
    args: ["--database=zitadel"],
    image: "example/op:1",
  }) as unknown as { spec: { template: { spec: { containers: Container[] } } } };
  const container = job.spec.template.spec.containers[0];
  if (container === undefined) throw new Error("the Job has no container");
  return { container, spec: JSON.stringify(job) };
}

describe("renderJob with destination.gcs", () => {
  it("is no longer refused as an unsupported destination", () => {
    expect(unsupportedDestination(DestinationSchema.parse({ gcs: { bucket: "zitadel-backups" } }))).toBe(
      undefined,
    );
  });

  it("passes bucket, prefix and endpoint as flags", () => {
    const { container } = render({
      bucket: "zitadel-backups",
      prefix: "zitadel/prod",
      endpoint: "https://storage-backups.p.googleapis.com",
      credentialsSecretRef: { name: "gcs-key" },
    });
    const store = container.args.filter((a) => /^--(gcs|s3|pvc)-/.test(a));
    expect(store).toEqual([
      "--gcs-bucket=zitadel-backups",
      "--gcs-prefix=zitadel/prod",
      "--gcs-endpoint=https://storage-backups.p.googleapis.com",
    ]);
  });

  it("gives the service account key as a secretKeyRef (the default key credentials.json) and never as a value", () => {
    const { container, spec } = render({
      bucket: "zitadel-backups",
      credentialsSecretRef: { name: "gcs-key" },
    });
    const env = container.env.find((e) => e.name === "GCS_CREDENTIALS_JSON");
    expect(env).toEqual({
      name: "GCS_CREDENTIALS_JSON",
      valueFrom: { secretKeyRef: { name: "gcs-key", key: "credentials.json" } },
    });
    expect(env).not.toHaveProperty("value");
    expect(container.args.join(" ")).not.toMatch(/credentials|private_key|secret/i);
    expect(spec).not.toMatch(/private_key|BEGIN PRIVATE KEY|service_account/);
  });

  it("uses the ambient credentials (Workload Identity) when no Secret is given: no GCS env at all", () => {
    const { container } = render({ bucket: "zitadel-backups", credentialsSecretRef: undefined });
    expect(container.env.map((e) => e.name)).not.toContain("GCS_CREDENTIALS_JSON");
    expect(container.args).toContain("--gcs-bucket=zitadel-backups");
    expect(container.args.some((a) => a.startsWith("--gcs-prefix") || a.startsWith("--gcs-endpoint"))).toBe(
      false,
    );
  });

  it("takes a custom key name of the Secret", () => {
    const { container } = render({
      bucket: "zitadel-backups",
      credentialsSecretRef: { name: "gcs-key", key: "sa.json" },
    });
    expect(container.env.find((e) => e.name === "GCS_CREDENTIALS_JSON")?.valueFrom).toEqual({
      secretKeyRef: { name: "gcs-key", key: "sa.json" },
    });
  });
});

describe("destination.gcs.endpoint", () => {
  it("accepts an http(s) URL and refuses anything else", () => {
    expect(
      DestinationSchema.safeParse({ gcs: { bucket: "b-1", endpoint: "https://x.example:443/" } }).success,
    ).toBe(true);
    for (const endpoint of ["storage.googleapis.com", "ftp://x", "https://a b"])
      expect(DestinationSchema.safeParse({ gcs: { bucket: "b-1", endpoint } }).success).toBe(false);
  });
});
