// The Backup, BackupSchedule and Restore controllers, run in-process against the real control plane. kwok runs
// the pods: a Job pod completes at once (or fails, when its image names simulate-failure). No pg_dump runs here:
// the `JobSimulator` (test/support/job-simulator.ts) plays what `zitadel-operator job backup|restore` would print, by writing its JSON result
// line into the Job pod's termination message through the pod status subresource, as the kubelet would. (The job
// command itself is tested for real in backup-job.test.ts.) The Zitadel controller runs too, against the real
// PostgreSQL on 127.0.0.1:5432, so an in-place restore meets a real Zitadel Deployment and its real setup Jobs.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { S3Store } from "../../src/backup/s3-store.ts";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { operatorMetrics } from "../../src/runtime/metrics.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { JobSimulator } from "../support/job-simulator.ts";
import { localSql } from "../support/postgres-server.ts";
import { startS3Server } from "../support/s3.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const log = createLogger({ level: (process.env.TEST_LOG_LEVEL as "error") ?? "error" });
const RUN = `${process.pid}_${Date.now().toString(36)}`;
const PG_ADMIN_PASSWORD = "pg-admin-password-stays-in-its-secret";
const S3_SECRET_KEY = "s3-secret-key-stays-in-its-secret";
// The example recipient of the age specification: a public key, nothing secret.
const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

const GROUP = "zitadel-operator.dev/v1alpha1";
const T = {
  zitadel: { apiVersion: GROUP, kind: "Zitadel", plural: "zitadels", namespaced: true },
  backup: { apiVersion: GROUP, kind: "Backup", plural: "backups", namespaced: true },
  schedule: { apiVersion: GROUP, kind: "BackupSchedule", plural: "backupschedules", namespaced: true },
  restore: { apiVersion: GROUP, kind: "Restore", plural: "restores", namespaced: true },
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
  pod: { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true },
  deployment: { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", namespaced: true },
  event: { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events", namespaced: true },
};

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type BackupObject = KubeObject & {
  status?: {
    phase?: string;
    sizeBytes?: number;
    location?: string;
    startedAt?: string;
    completedAt?: string;
    jobName?: string;
    error?: string;
    conditions?: Condition[];
  };
};
type ScheduleObject = KubeObject & {
  status?: {
    lastScheduleTime?: string;
    nextScheduleTime?: string;
    active?: string;
    conditions?: Condition[];
  };
};
type RestoreObject = KubeObject & {
  status?: { phase?: string; restoredDatabase?: string; error?: string; conditions?: Condition[] };
};
type JobObject = KubeObject & {
  spec?: { template: { spec: { containers: { image: string; args: string[]; env: object[] }[] } } };
  status?: { succeeded?: number; completionTime?: string; conditions?: { type: string; status: string }[] };
};

const sql = localSql;

/** Plays `job backup|restore|verify` (test/support/job-simulator.ts): every Job succeeds with these results. */
function simulatorFor(ns: string): JobSimulator {
  return new JobSimulator(client, ns, ["backup", "restore", "verify"], ({ owner, command }) => {
    const now = new Date().toISOString();
    if (command === "backup")
      return {
        ok: true,
        location: `s3://backups/zitadel/${ns}/zt/${owner}/`,
        startedAt: now,
        completedAt: now,
        sizeBytes: 4096,
        tables: 3,
      };
    if (command === "verify")
      return { ok: true, message: "3 tables match the manifest", verification: { result: "Passed" } };
    return { ok: true, database: "restored", tables: 3, masterkey: "matches" };
  });
}

const createdDatabases: string[] = [];
function zitadel(ns: string, name: string): KubeObject {
  const database = `zop_bk_${name}_${RUN}`;
  createdDatabases.push(database);
  return {
    apiVersion: GROUP,
    kind: "Zitadel",
    metadata: { name, namespace: ns },
    spec: {
      version: "v4.1.0",
      replicas: 1,
      externalDomain: `${name}.example.com`,
      login: { enabled: false },
      database: {
        postgres: {
          host: "127.0.0.1",
          port: 5432,
          database,
          sslMode: "disable",
          adminSecretRef: { name: "pg-admin" },
        },
      },
    },
  };
}

const template = (zitadelName: string) => ({
  source: { zitadelRef: { name: zitadelName } },
  destination: {
    s3: {
      bucket: "backups",
      prefix: "zitadel",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
      credentialsSecretRef: { name: "s3-credentials" },
    },
  },
  masterkeyRecipients: [RECIPIENT],
});

async function backups(ns: string, schedule: string): Promise<BackupObject[]> {
  const { items } = await client.list<BackupObject>(T.backup, {
    namespace: ns,
    labelSelector: `zitadel-operator.dev/backup-schedule=${schedule}`,
  });
  return items.sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
}

/** The scheduled time a Backup of a schedule was named after (<schedule>-<unix seconds>). */
const slotOf = (b: KubeObject) => Number(b.metadata?.name?.split("-").at(-1)) * 1000;

async function eventsFor(ns: string, name: string, reason: string) {
  const { items } = await client.list<KubeObject & { reason?: string; note?: string; type?: string }>(
    T.event,
    {
      namespace: ns,
    },
  );
  return items.filter(
    (e) => e.reason === reason && (e.regarding as { name?: string } | undefined)?.name === name,
  );
}

let ns: string;
let operator: Manager;
let simulator: JobSimulator;
const start = async () => {
  operator = createOperator({ kubeConfig: kc, log, namespaces: [ns] });
  await operator.start();
};

beforeAll(async () => {
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "bkc");
  await client.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "pg-admin", namespace: ns },
    stringData: { username: "postgres", password: PG_ADMIN_PASSWORD },
  });
  await client.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s3-credentials", namespace: ns },
    stringData: { AWS_ACCESS_KEY_ID: "backup-writer", AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY },
  });
  simulator = simulatorFor(ns).start();
  await start();
  // The source of every backup here: bootstrapped by the Zitadel controller, then Ready.
  await client.apply(zitadel(ns, "zt"));
  await eventually(
    async () => {
      const z = await client.get<KubeObject & { status?: { conditions?: Condition[] } }>(T.zitadel, ns, "zt");
      expect(z?.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
});

afterAll(async () => {
  simulator?.stop();
  await operator?.stop();
  for (const database of createdDatabases) await sql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  for (const database of createdDatabases) await sql(`DROP ROLE IF EXISTS "${database}"`);
});

describe("Backup", () => {
  it("runs one Job of the operator's image, with credentials only as secretKeyRef, and completes from its result", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Backup",
      metadata: { name: "manual", namespace: ns },
      spec: template("zt"),
    });
    const done = await eventually(
      async () => {
        const b = await client.get<BackupObject>(T.backup, ns, "manual");
        expect(b?.status?.phase).toBe("Completed");
        return b as BackupObject;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(done.status).toMatchObject({
      sizeBytes: 4096,
      location: `s3://backups/zitadel/${ns}/zt/manual/`,
    });
    expect(done.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "True",
      reason: "Completed",
    });
    expect(Date.parse(done.status?.completedAt ?? "")).toBeGreaterThan(0);

    // One Job, named after the Backup's uid; nothing secret in its spec; every credential by secretKeyRef.
    const { items: jobs } = await client.list<JobObject>(T.job, {
      namespace: ns,
      labelSelector: "zitadel-operator.dev/backup-owner=manual",
    });
    expect(jobs.map((j) => j.metadata?.name)).toEqual([done.status?.jobName]);
    expect(done.status?.jobName).toBe(`manual-${(done.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8)}`);
    const job = jobs[0] as JobObject;
    const text = JSON.stringify(job);
    expect(text).not.toContain(PG_ADMIN_PASSWORD);
    expect(text).not.toContain(S3_SECRET_KEY);
    const container = job.spec?.template.spec.containers[0];
    expect(container?.args.slice(0, 2)).toEqual(["job", "backup"]);
    expect(container?.args).toContain(`--age-recipient=${RECIPIENT}`);
    expect(container?.args).toContain("--pg-user=postgres");
    expect(container?.env).toEqual(
      expect.arrayContaining([
        { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: "pg-admin", key: "password" } } },
        {
          name: "ZITADEL_MASTERKEY",
          valueFrom: { secretKeyRef: { name: "zt-masterkey", key: "masterkey" } },
        },
        {
          name: "AWS_SECRET_ACCESS_KEY",
          valueFrom: { secretKeyRef: { name: "s3-credentials", key: "AWS_SECRET_ACCESS_KEY" } },
        },
      ]),
    );
    expect(await eventsFor(ns, "manual", "BackupCompleted")).toHaveLength(1);
    expect(operatorMetrics.registry.exposition()).toMatch(
      new RegExp(`zitadel_operator_backup_last_size_bytes\\{source="${ns}/zt"\\} 4096`),
    );
  });

  it("fails with a Warning Event and a counted failure when its Job fails", async () => {
    // kwok fails a pod whose image names simulate-failure; the image comes from OPERATOR_IMAGE at render time.
    process.env.OPERATOR_IMAGE = "registry.example/simulate-failure/zitadel-operator:test";
    try {
      await client.apply({
        apiVersion: GROUP,
        kind: "Backup",
        metadata: { name: "doomed", namespace: ns },
        spec: template("zt"),
      });
      await eventually(async () => {
        const { items } = await client.list<JobObject>(T.job, {
          namespace: ns,
          labelSelector: "zitadel-operator.dev/backup-owner=doomed",
        });
        expect(items).toHaveLength(1);
      });
    } finally {
      delete process.env.OPERATOR_IMAGE;
    }
    const failed = await eventually(
      async () => {
        const b = await client.get<BackupObject>(T.backup, ns, "doomed");
        expect(b?.status?.phase).toBe("Failed");
        return b as BackupObject;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(failed.status?.error).toContain("exited with code 1");
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "False",
      reason: "JobFailed",
    });
    const warnings = await eventsFor(ns, "doomed", "BackupFailed");
    expect(warnings.map((e) => e.type)).toEqual(["Warning"]);
    expect(operatorMetrics.registry.exposition()).toMatch(
      new RegExp(`zitadel_operator_backup_failures_total\\{source="${ns}/zt"\\} [1-9]`),
    );
  });
});

describe("Backup with verify", () => {
  it("runs a verify Job after the backup and records its result in status.verification", async () => {
    await client.apply({
      apiVersion: GROUP,
      kind: "Backup",
      metadata: { name: "checked", namespace: ns },
      spec: { ...template("zt"), verify: true },
    });
    const b = await eventually(
      async () => {
        const b = await client.get<
          BackupObject & { status?: { verification?: { result: string; message?: string } } }
        >(T.backup, ns, "checked");
        expect(b?.status?.verification?.result).toBe("Passed");
        return b;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(b?.status?.phase).toBe("Completed");
    expect(b?.status?.verification?.message).toBe("3 tables match the manifest");
    expect(b?.status?.conditions?.find((c) => c.type === "Verified")).toMatchObject({ status: "True" });
    const { items } = await client.list<JobObject>(T.job, {
      namespace: ns,
      labelSelector: "zitadel-operator.dev/backup-owner=checked",
    });
    expect(items.map((j) => j.spec?.template.spec.containers[0]?.args[1]).sort()).toEqual([
      "backup",
      "verify",
    ]);
  });
});

describe("Backup with deletionPolicy Delete", () => {
  it("deletes its files from the store before it goes, and only its own", async () => {
    const s3 = await startS3Server("deletes");
    try {
      await client.apply({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "s3-real", namespace: ns },
        stringData: { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey },
      });
      const store = new S3Store({
        bucket: s3.bucket,
        prefix: "zitadel",
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
      });
      // What `job backup` would have written for this Backup, and another backup beside it.
      await store.put(`${ns}/zt/files-go/dump`, "dump");
      await store.put(`${ns}/zt/files-go/manifest.json`, "{}");
      await store.put(`${ns}/zt/files-stay/manifest.json`, "{}");
      await client.apply({
        apiVersion: GROUP,
        kind: "Backup",
        metadata: { name: "files-go", namespace: ns },
        spec: {
          ...template("zt"),
          destination: {
            s3: {
              bucket: s3.bucket,
              prefix: "zitadel",
              endpoint: s3.endpoint,
              region: s3.region,
              forcePathStyle: true,
              credentialsSecretRef: { name: "s3-real" },
            },
          },
          deletionPolicy: "Delete",
        },
      });
      await eventually(async () => {
        const b = await client.get<BackupObject>(T.backup, ns, "files-go");
        expect(b?.status?.phase).toBe("Completed");
        expect(b?.metadata?.finalizers).toContain("zitadel-operator.dev/backup-files");
      });
      await client.delete(T.backup, ns, "files-go");
      await eventually(async () => expect(await client.get(T.backup, ns, "files-go")).toBeUndefined());
      expect((await store.list(`${ns}/zt/`)).map((o) => o.key)).toEqual([
        `${ns}/zt/files-stay/manifest.json`,
      ]);
      const [event] = await eventsFor(ns, "files-go", "FilesDeleted");
      expect(event?.note).toContain("deleted 2 object(s)");
      expect(JSON.stringify(event)).not.toContain(s3.secretKey);
      store.close();
    } finally {
      await s3.stop();
    }
  });
});

describe("BackupSchedule", () => {
  const INTERVAL_MS = 3_000;

  it("creates Backups on time, skips a run while one is running, and survives a restart without double runs", async () => {
    const name = "every3s";
    await client.apply({
      apiVersion: GROUP,
      kind: "BackupSchedule",
      metadata: { name, namespace: ns },
      spec: { interval: "3s", missedRuns: "RunOnce", template: template("zt") },
    });
    const created = await client.get<ScheduleObject>(T.schedule, ns, name);
    const origin = Date.parse(created?.metadata?.creationTimestamp ?? "");

    // The first scheduled time: one Backup, named after it and created within a second of it. Held running.
    const first = `${name}-${(origin + INTERVAL_MS) / 1000}`;
    simulator.hold.add(first);
    const [b1] = await eventually(
      async () => {
        const list = await backups(ns, name);
        expect(list.map((b) => b.metadata?.name)).toEqual([first]);
        return list;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(Date.parse(b1?.metadata?.creationTimestamp ?? "") - slotOf(b1 as KubeObject)).toBeLessThan(2_000);
    await eventually(async () =>
      expect((await client.get<BackupObject>(T.backup, ns, first))?.status?.phase).toBe("Running"),
    );

    // Two more scheduled times pass while it runs: both skipped (concurrencyPolicy Forbid), with Warning Events.
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS + 500));
    expect((await backups(ns, name)).map((b) => b.metadata?.name)).toEqual([first]);
    const skipped = await eventsFor(ns, name, "RunSkipped");
    expect(skipped.length).toBeGreaterThanOrEqual(2);
    expect(
      skipped.every((e) => e.type === "Warning" && e.note?.includes(`Backup ${first} is still running`)),
    ).toBe(true);

    // Once it completes, the next scheduled time starts the next Backup, on time.
    simulator.hold.delete(first);
    await eventually(
      async () => {
        const list = await backups(ns, name);
        expect(list.length).toBeGreaterThanOrEqual(2);
        expect(list[0]?.status?.phase).toBe("Completed");
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    for (const b of await backups(ns, name)) {
      expect((slotOf(b) - origin) % INTERVAL_MS).toBe(0);
      expect(Date.parse(b.metadata?.creationTimestamp ?? "") - slotOf(b)).toBeLessThan(2_000);
    }

    // The operator stops for more than two scheduled times. The new one catches up with exactly one Backup, for
    // the newest missed time (missedRuns: RunOnce), and then keeps time; none is ever made twice.
    // Stop just after a Backup completed, so nothing runs when the operator goes away: the catch-up is then
    // only about the missed times, not about a Backup whose end the stopped operator did not see.
    await eventually(
      async () => {
        const newest = (await backups(ns, name)).at(-1) as BackupObject;
        expect(newest.status?.phase).toBe("Completed");
        expect(Date.now() - slotOf(newest)).toBeLessThan(1_500);
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    await operator.stop();
    const stoppedAt = Date.now();
    const before = new Set((await backups(ns, name)).map((b) => b.metadata?.name));
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS + 1_000));
    const restartedAt = Date.now();
    await start();
    await eventually(
      async () => {
        const after = (await backups(ns, name)).filter((b) => !before.has(b.metadata?.name));
        // The catch-up, and at least one on-time run after it.
        expect(after.length).toBeGreaterThanOrEqual(2);
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    // The first Backup after the restart is the catch-up: at least two scheduled times passed since the last
    // Backup before the stop, and none of them but the newest got one.
    const made = (await backups(ns, name)).filter((b) => !before.has(b.metadata?.name));
    const catchUp = made[0] as KubeObject;
    const lastBefore = Math.max(...[...before].map((n) => Number(n?.split("-").at(-1)) * 1000));
    expect(
      slotOf(catchUp) - lastBefore,
      JSON.stringify({ stoppedAt, restartedAt, made: made.map((b) => b.metadata?.name) }),
    ).toBeGreaterThanOrEqual(2 * INTERVAL_MS);
    expect(slotOf(catchUp)).toBeGreaterThan(restartedAt - INTERVAL_MS);
    const createdEvents = (await eventsFor(ns, name, "BackupCreated")).map((e) => e.note);
    expect(
      createdEvents.some((note) => note?.includes("catching up")),
      JSON.stringify(createdEvents),
    ).toBe(true);
    // One Job per Backup, whatever the restarts.
    const { items: jobs } = await client.list<JobObject>(T.job, {
      namespace: ns,
      labelSelector: "app.kubernetes.io/component=backup",
    });
    const owners = jobs.map((j) => j.metadata?.labels?.["zitadel-operator.dev/backup-owner"]);
    expect(new Set(owners).size).toBe(owners.length);

    await client.apply({
      apiVersion: GROUP,
      kind: "BackupSchedule",
      metadata: { name, namespace: ns },
      spec: { interval: "3s", suspend: true, template: template("zt") },
    });
  });

  it("keeps the newest completed Backups that retention asks for, and deletes the rest", async () => {
    const name = "keep2";
    await client.apply({
      apiVersion: GROUP,
      kind: "BackupSchedule",
      metadata: { name, namespace: ns },
      spec: { interval: "2s", immediate: true, retention: { keepLast: 2 }, template: template("zt") },
    });
    // Immediate: a Backup at creation, before the first interval.
    await eventually(async () => expect((await backups(ns, name)).length).toBeGreaterThanOrEqual(1));
    const events = await eventually(
      async () => {
        const deleted = await eventsFor(ns, name, "BackupDeleted");
        expect(deleted.length).toBeGreaterThanOrEqual(2);
        return deleted;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(events[0]?.note).toContain("not among the newest 2 completed backups");
    await client.apply({
      apiVersion: GROUP,
      kind: "BackupSchedule",
      metadata: { name, namespace: ns },
      spec: { interval: "2s", suspend: true, retention: { keepLast: 2 }, template: template("zt") },
    });
    await new Promise((r) => setTimeout(r, 1_500));
    await eventually(async () => {
      const completed = (await backups(ns, name)).filter(
        (b) => b.status?.phase === "Completed" && !b.metadata?.deletionTimestamp,
      );
      expect(completed.length).toBeLessThanOrEqual(2);
      expect(completed.length).toBeGreaterThanOrEqual(1);
    });
  });
});

describe("retention and restores", () => {
  it("never deletes a Backup while a Restore reads from it", async () => {
    const name = "keep1";
    await client.apply({
      apiVersion: GROUP,
      kind: "BackupSchedule",
      metadata: { name, namespace: ns },
      spec: { interval: "2s", immediate: true, retention: { keepLast: 1 }, template: template("zt") },
    });
    const first = await eventually(
      async () => {
        const [b] = await backups(ns, name);
        expect(b?.status?.phase).toBe("Completed");
        return b?.metadata?.name as string;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    // A restore next to the live database that stays Running (its result is held back).
    simulator.hold.add("reads-first");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "reads-first", namespace: ns },
      spec: { backupRef: { name: first }, target: { newDatabaseName: "zitadel_reads_first" } },
    });
    await eventually(async () =>
      expect((await client.get<RestoreObject>(T.restore, ns, "reads-first"))?.status?.phase).toBe("Running"),
    );
    // Newer Backups complete and retention deletes the older ones, but not the one being restored.
    await eventually(
      async () => {
        const deleted = (await eventsFor(ns, name, "BackupDeleted")).map((e) => e.note ?? "");
        expect(deleted.length).toBeGreaterThanOrEqual(2);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(await client.get(T.backup, ns, first)).toBeDefined();
    // Once the Restore finished, retention may take it.
    simulator.hold.delete("reads-first");
    await eventually(async () => expect(await client.get(T.backup, ns, first)).toBeUndefined(), {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    await client.apply({
      apiVersion: GROUP,
      kind: "BackupSchedule",
      metadata: { name, namespace: ns },
      spec: { interval: "2s", suspend: true, retention: { keepLast: 1 }, template: template("zt") },
    });
  });
});

// "Restore in place" lives in restore-controller.test.ts, with a real S3 store for the manifests it reads.

describe("zitadel-operator backup and restore (the CLI, as a separate process against the cluster)", () => {
  const cli = async (...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      [join(import.meta.dirname, "../../bin/zitadel-operator.js"), ...args],
      {
        env: { ...process.env, KUBECONFIG: inject("controlPlane").kubeconfigPath },
        timeout: 60_000,
      },
    );

  it("backup create --wait -o json follows the Backup to Completed, printing progress to stderr", async () => {
    const { stdout, stderr } = await cli(
      "backup",
      "create",
      "from-cli",
      "-n",
      ns,
      "--zitadel",
      "zt",
      "--s3-bucket",
      "backups",
      "--s3-credentials-secret",
      "s3-credentials",
      "--age-recipient",
      RECIPIENT,
      "--wait",
      "--timeout",
      "50",
      "-o",
      "json",
    );
    const done = JSON.parse(stdout) as BackupObject;
    expect(done.status?.phase).toBe("Completed");
    expect(done.status?.location).toBe(`s3://backups/zitadel/${ns}/zt/from-cli/`);
    expect(stderr).toMatch(/Backup from-cli: Completed - backed up/);

    const listed = JSON.parse((await cli("backup", "list", "-n", ns, "-o", "json")).stdout) as {
      name: string;
    }[];
    expect(listed.map((r) => r.name)).toContain("from-cli");
    const described = (await cli("backup", "describe", "from-cli", "-n", ns)).stdout;
    expect(described).toContain("Ready=True (Completed)");
    expect(described).toMatch(/Normal {2}BackupCompleted/);
  });

  it("restore --new-database --wait restores next to the live database and exits 0", async () => {
    const { stdout } = await cli(
      "restore",
      "inspect",
      "-n",
      ns,
      "--backup",
      "from-cli",
      "--new-database",
      "zitadel_inspect",
      "--wait",
      "--timeout",
      "50",
    );
    expect(stdout).toMatch(/Restore inspect: Completed - restored/);
    // Next to it: the Zitadel was never scaled down.
    const z = await client.get<KubeObject & { spec: { replicas: number }; metadata: { generation: number } }>(
      T.zitadel,
      ns,
      "zt",
    );
    expect(z?.spec.replicas).toBe(1);
    expect(await eventsFor(ns, "inspect", "ScalingDown")).toEqual([]);
    const { items } = await client.list<JobObject>(T.job, {
      namespace: ns,
      labelSelector: "zitadel-operator.dev/backup-owner=inspect",
    });
    expect(items[0]?.spec?.template.spec.containers[0]?.args).toContain("--target-database=zitadel_inspect");
  });
});
