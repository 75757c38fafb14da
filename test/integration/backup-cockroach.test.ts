// Backups of CockroachDB through the Backup controller, in-process against the real control plane, with the
// CockroachCluster controller making the cluster's certificates for real. No CockroachDB runs here (see the
// README): kwok completes the Job's pod and the test writes the result line `zitadel-operator job backup|verify`
// would print into its termination message, as backup-controllers.test.ts does for PostgreSQL. What is checked
// is what the operator decides: the Job's engine flags, the root client certificate mounted (never copied into the
// spec), the NetworkPolicy's client label, and the status it derives from the result.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { JobSimulator } from "../support/job-simulator.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const log = createLogger({ level: (process.env.TEST_LOG_LEVEL as "error") ?? "error" });
const GROUP = "zitadel-operator.dev/v1alpha1";
const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const S3_SECRET_KEY = "crdb-s3-secret-stays-in-its-secret";
const T = {
  cluster: { apiVersion: GROUP, kind: "CockroachCluster", plural: "cockroachclusters", namespaced: true },
  zitadel: { apiVersion: GROUP, kind: "Zitadel", plural: "zitadels", namespaced: true },
  backup: { apiVersion: GROUP, kind: "Backup", plural: "backups", namespaced: true },
  restore: { apiVersion: GROUP, kind: "Restore", plural: "restores", namespaced: true },
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
  secret: { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
};

type Condition = { type: string; status: string; reason: string; message: string };
type RestoreObject = KubeObject & {
  status?: { phase?: string; restoredDatabase?: string; error?: string; conditions?: Condition[] };
};
type BackupObject = KubeObject & {
  status?: {
    phase?: string;
    engine?: string;
    asOf?: string;
    sizeBytes?: number;
    location?: string;
    error?: string;
    verification?: { result?: string };
    conditions?: Condition[];
  };
};
type Container = { args: string[]; env?: { name: string; valueFrom?: unknown; value?: string }[] };
type JobObject = KubeObject & {
  spec?: {
    template: {
      metadata?: { labels?: Record<string, string> };
      spec: {
        securityContext?: Record<string, unknown>;
        containers: Container[];
        volumes?: { name: string; secret?: { secretName: string } }[];
      };
    };
  };
};

const AS_OF = "2026-11-28T10:00:00.000Z";

/** Plays `job backup|verify|restore` on CockroachDB (test/support/job-simulator.ts). */
function simulatorFor(ns: string): JobSimulator {
  return new JobSimulator(client, ns, ["backup", "verify", "restore"], ({ owner, command, flag }) => {
    const now = new Date().toISOString();
    if (command === "restore")
      return { ok: true, database: flag("target-database") ?? flag("database") ?? "", tables: 12 };
    if (command === "backup")
      return {
        ok: true,
        location: `s3://backups/crdb/${ns}/db/${owner}/`,
        startedAt: now,
        completedAt: now,
        asOf: AS_OF,
        sizeBytes: 1_048_576,
        tables: 12,
      };
    return {
      ok: true,
      message: "restored 1 database(s) into scratch databases: 12 table(s) match the backup's row counts",
      verification: { result: "Passed" },
    };
  });
}

const s3 = {
  bucket: "backups",
  prefix: "crdb",
  endpoint: "https://s3.example.com",
  credentialsSecretRef: { name: "s3-credentials" },
};

async function backupDone(ns: string, name: string, phase = "Completed"): Promise<BackupObject> {
  return eventually(
    async () => {
      const b = await client.get<BackupObject>(T.backup, ns, name);
      expect(b?.status?.phase, JSON.stringify(b?.status)).toBe(phase);
      return b as BackupObject;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function jobsOf(ns: string, owner: string): Promise<JobObject[]> {
  const { items } = await client.list<JobObject>(T.job, {
    namespace: ns,
    labelSelector: `zitadel-operator.dev/backup-owner=${owner}`,
  });
  return items;
}

let ns: string;
let operator: Manager;
let simulator: JobSimulator;

beforeAll(async () => {
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "bkcr");
  await client.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s3-credentials", namespace: ns },
    stringData: { AWS_ACCESS_KEY_ID: "backup-writer", AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY },
  });
  operator = createOperator({ kubeConfig: kc, log, namespaces: [ns] });
  await operator.start();
  simulator = simulatorFor(ns).start();
  await client.apply({
    apiVersion: GROUP,
    kind: "CockroachCluster",
    metadata: { name: "db", namespace: ns },
    spec: { version: "v24.3.5", nodes: 3 },
  });
  // The root client certificate is what every backup Job authenticates with.
  await eventually(async () => expect(await client.get(T.secret, ns, "db-client-root")).toBeDefined(), {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
});

afterAll(async () => {
  simulator?.stop();
  await operator?.stop();
});

describe("Backup of a CockroachCluster", () => {
  it("runs the job with the root certificate mounted and the cluster's client label, and verifies", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Backup",
      metadata: { name: "whole", namespace: ns },
      spec: { source: { cockroachClusterRef: { name: "db" } }, destination: { s3 }, verify: true },
    });
    const done = await backupDone(ns, "whole");
    expect(done.status).toMatchObject({
      engine: "CockroachDB",
      asOf: AS_OF,
      sizeBytes: 1_048_576,
      location: `s3://backups/crdb/${ns}/db/whole/`,
    });
    await eventually(
      async () => {
        const b = await client.get<BackupObject>(T.backup, ns, "whole");
        expect(b?.status?.verification?.result).toBe("Passed");
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    const jobs = await jobsOf(ns, "whole");
    expect(jobs).toHaveLength(2);
    const rootKey = Buffer.from(
      (await client.get<KubeObject & { data: Record<string, string> }>(T.secret, ns, "db-client-root"))?.data[
        "client.root.key"
      ] ?? "",
      "base64",
    ).toString();
    expect(rootKey).toContain("PRIVATE KEY");
    for (const job of jobs) {
      const text = JSON.stringify(job);
      expect(text).not.toContain(S3_SECRET_KEY);
      expect(text).not.toContain(rootKey.split("\n")[1] ?? "unreachable");
      const pod = job.spec?.template;
      const container = pod?.spec.containers[0];
      expect(container?.args).toEqual(
        expect.arrayContaining([
          "--engine=cockroachdb",
          "--crdb-host=db-public",
          "--crdb-port=26257",
          "--crdb-certs-dir=/etc/zitadel-operator/crdb-certs",
          "--source=db",
          "--s3-bucket=backups",
        ]),
      );
      expect(container?.args.some((a) => a.startsWith("--pg-"))).toBe(false);
      expect(pod?.metadata?.labels?.["zitadel-operator.dev/cockroach-client"]).toBe("db");
      expect(pod?.spec.volumes?.find((v) => v.name === "crdb-certs")?.secret?.secretName).toBe(
        "db-client-root",
      );
      expect(pod?.spec.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 65532 });
      expect(container?.env?.map((e) => e.name)).not.toContain("PGPASSWORD");
    }
    const backupJob = jobs.find((j) => j.spec?.template.spec.containers[0]?.args[1] === "backup");
    // A cluster backup: no --database, and no masterkey (a CockroachCluster is not a Zitadel).
    expect(backupJob?.spec?.template.spec.containers[0]?.args).toContain("--without-masterkey");
    expect(backupJob?.spec?.template.spec.containers[0]?.args.some((a) => a.startsWith("--database"))).toBe(
      false,
    );
  });

  it("backs up one database when asked", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Backup",
      metadata: { name: "one-db", namespace: ns },
      spec: { source: { cockroachClusterRef: { name: "db" }, database: "app" }, destination: { s3 } },
    });
    await backupDone(ns, "one-db");
    const [job] = await jobsOf(ns, "one-db");
    expect(job?.spec?.template.spec.containers[0]?.args).toContain("--database=app");
  });

  it("refuses a PVC destination: CockroachDB's nodes write the files, not the Job", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Backup",
      metadata: { name: "to-pvc", namespace: ns },
      spec: {
        source: { cockroachClusterRef: { name: "db" } },
        destination: { pvc: { claimName: "backups" } },
      },
    });
    const failed = await backupDone(ns, "to-pvc", "Failed");
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "DestinationUnsupported",
    });
    expect(failed.status?.error).toMatch(/destination\.s3 or destination\.gcs/);
    expect(await jobsOf(ns, "to-pvc")).toEqual([]);
  });
});

describe("Backup of a Zitadel on CockroachDB", () => {
  it("backs up its database with its masterkey encrypted to the recipients", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Zitadel",
      metadata: { name: "zc", namespace: ns },
      spec: {
        version: "v2.71.6",
        externalDomain: "zc.example.com",
        database: { cockroach: { clusterRef: { name: "db" } } },
      },
    });
    await client.apply({
      apiVersion: GROUP,
      kind: "Backup",
      metadata: { name: "zc-manual", namespace: ns },
      spec: { source: { zitadelRef: { name: "zc" } }, destination: { s3 }, masterkeyRecipients: [RECIPIENT] },
    });
    const done = await backupDone(ns, "zc-manual");
    expect(done.status?.engine).toBe("CockroachDB");
    const [job] = await jobsOf(ns, "zc-manual");
    const container = job?.spec?.template.spec.containers[0];
    expect(container?.args).toEqual(
      expect.arrayContaining([
        "--engine=cockroachdb",
        "--database=zitadel",
        "--source=zc",
        `--age-recipient=${RECIPIENT}`,
      ]),
    );
    expect(container?.env).toEqual(
      expect.arrayContaining([
        {
          name: "ZITADEL_MASTERKEY",
          valueFrom: { secretKeyRef: { name: "zc-masterkey", key: "masterkey" } },
        },
      ]),
    );
  });
});

async function restoreDone(ns: string, name: string, phase: string): Promise<RestoreObject> {
  return eventually(
    async () => {
      const r = await client.get<RestoreObject>(T.restore, ns, name);
      expect(r?.status?.phase, JSON.stringify(r?.status)).toBe(phase);
      return r as RestoreObject;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

describe("Restore into CockroachDB", () => {
  it("restores a database of a cluster backup in place, through the same engine flags", async () => {
    await backupDone(ns, "one-db");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "app-back", namespace: ns },
      spec: { backupRef: { name: "one-db" }, overwrite: true },
    });
    const done = await restoreDone(ns, "app-back", "Completed");
    expect(done.status?.restoredDatabase).toBe("app");
    const [job] = await jobsOf(ns, "app-back");
    const args = job?.spec?.template.spec.containers[0]?.args ?? [];
    expect(args.slice(0, 2)).toEqual(["job", "restore"]);
    expect(args).toEqual(
      expect.arrayContaining([
        "--engine=cockroachdb",
        "--crdb-host=db-public",
        "--source=db",
        "--backup-name=one-db",
        "--database=app",
        "--overwrite",
      ]),
    );
    expect(args.some((a) => a.startsWith("--target-database"))).toBe(false);
    expect(JSON.stringify(job)).not.toContain(S3_SECRET_KEY);
  });

  it("refuses to overwrite a database a Zitadel runs on unless the Restore goes through that Zitadel", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "under-zitadel", namespace: ns },
      spec: {
        backupRef: { name: "whole" },
        target: { cockroachClusterRef: { name: "db" }, database: "zitadel" },
        overwrite: true,
      },
    });
    const failed = await restoreDone(ns, "under-zitadel", "Failed");
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")?.reason).toBe("TargetInUse");
    expect(failed.status?.error).toMatch(/Zitadel zc runs on database "zitadel"/);
    expect(await jobsOf(ns, "under-zitadel")).toEqual([]);
  });

  it("restores a Zitadel's CockroachDB backup under a new name next to the live database", async () => {
    await backupDone(ns, "zc-manual");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "zc-copy", namespace: ns },
      spec: { backupRef: { name: "zc-manual" }, target: { newDatabaseName: "zitadel_copy" } },
    });
    const done = await restoreDone(ns, "zc-copy", "Completed");
    expect(done.status?.restoredDatabase).toBe("zitadel_copy");
    const [job] = await jobsOf(ns, "zc-copy");
    const container = job?.spec?.template.spec.containers[0];
    expect(container?.args).toEqual(
      expect.arrayContaining(["--engine=cockroachdb", "--source=zc", "--target-database=zitadel_copy"]),
    );
    expect(container?.env).toEqual(
      expect.arrayContaining([
        {
          name: "ZITADEL_MASTERKEY",
          valueFrom: { secretKeyRef: { name: "zc-masterkey", key: "masterkey" } },
        },
      ]),
    );
  });

  it("restores a Zitadel on CockroachDB in place: its bootstrap statements and setup run again before its pods", async () => {
    await eventually(
      async () => {
        const z = await client.get<KubeObject & { status?: { conditions?: Condition[] } }>(
          T.zitadel,
          ns,
          "zc",
        );
        expect(z?.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const bootstrapJobs = async () =>
      (
        await client.list<JobObject>(T.job, {
          namespace: ns,
          labelSelector: "app.kubernetes.io/component=zitadel-user",
        })
      ).items;
    const [before] = await bootstrapJobs();
    expect(before).toBeDefined();
    await backupDone(ns, "zc-manual");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "zc-back", namespace: ns },
      spec: { backupRef: { name: "zc-manual" }, overwrite: true },
    });
    const done = await eventually(
      async () => {
        const r = await client.get<RestoreObject>(T.restore, ns, "zc-back");
        expect(r?.status?.phase, JSON.stringify(r?.status)).toBe("Completed");
        return r as RestoreObject;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    expect(done.status?.restoredDatabase).toBe("zitadel");
    // The same Job name (it is named after its statements), made again: the settings of the new database's ID.
    const after = await bootstrapJobs();
    expect(after.map((j) => j.metadata?.name)).toEqual([before?.metadata?.name]);
    expect(after[0]?.metadata?.uid).not.toBe(before?.metadata?.uid);
    const [job] = await jobsOf(ns, "zc-back");
    expect(job?.spec?.template.spec.containers[0]?.args).toEqual(
      expect.arrayContaining(["--engine=cockroachdb", "--target-database=zitadel", "--overwrite"]),
    );
    const z = await client.get<KubeObject>(T.zitadel, ns, "zc");
    expect(z?.metadata?.annotations?.["zitadel-operator.dev/restore-in-progress"]).toBeUndefined();
  });

  it("takes a backup with revision history and passes a point in time to the restore Job", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Backup",
      metadata: { name: "kept", namespace: ns },
      spec: {
        source: { cockroachClusterRef: { name: "db" }, database: "app" },
        destination: { s3 },
        revisionHistory: true,
      },
    });
    await backupDone(ns, "kept");
    const [backupJob] = await jobsOf(ns, "kept");
    expect(backupJob?.spec?.template.spec.containers[0]?.args).toContain("--revision-history");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "kept-then", namespace: ns },
      spec: {
        backupRef: { name: "kept" },
        asOf: "2026-11-28T09:00:00Z",
        target: { newDatabaseName: "app_then" },
      },
    });
    expect((await restoreDone(ns, "kept-then", "Completed")).status?.restoredDatabase).toBe("app_then");
    const [restoreJob] = await jobsOf(ns, "kept-then");
    expect(restoreJob?.spec?.template.spec.containers[0]?.args).toEqual(
      expect.arrayContaining([
        "--database=app",
        "--target-database=app_then",
        "--as-of=2026-11-28T09:00:00Z",
      ]),
    );
  });

  it("refuses a point in time instead of silently restoring another one", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "pitr", namespace: ns },
      spec: {
        backupRef: { name: "one-db" },
        asOf: "2026-11-28T09:00:00Z",
        target: { newDatabaseName: "app_then" },
      },
    });
    const failed = await restoreDone(ns, "pitr", "Failed");
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")?.reason).toBe("AsOfUnsupported");
    expect(await jobsOf(ns, "pitr")).toEqual([]);
  });
});
