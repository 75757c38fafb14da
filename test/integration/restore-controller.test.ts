// The Restore controller in place, run in-process against the real control plane, with the Zitadel controller
// running against the real PostgreSQL on 127.0.0.1:5432 (so a restore meets a real Zitadel Deployment and its
// real setup Jobs) and a real S3 server on loopback holding the backups' manifest.json and masterkey.age, which
// the controller reads itself. kwok runs the pods; no pg_dump runs here: the restore Job's result line is written
// into its pod's termination message, as the kubelet would (the job command is tested in backup-job.test.ts).
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:https";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Manifest, serializeManifest } from "../../src/backup/manifest.ts";
import { encryptMasterkey, masterkeyKeyId } from "../../src/backup/masterkey.ts";
import { S3Store } from "../../src/backup/s3-store.ts";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { JobSimulator } from "../support/job-simulator.ts";
import { localSql } from "../support/postgres-server.ts";
import { type S3Server, startS3Server } from "../support/s3.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const log = createLogger({ level: (process.env.TEST_LOG_LEVEL as "error") ?? "error" });
const RUN = `${process.pid}_${Date.now().toString(36)}`;
const PG_ADMIN_PASSWORD = "pg-admin-password-stays-in-its-secret";
const PREFIX = "zitadel";

const GROUP = "zitadel-operator.dev/v1alpha1";
const T = {
  zitadel: { apiVersion: GROUP, kind: "Zitadel", plural: "zitadels", namespaced: true },
  restore: { apiVersion: GROUP, kind: "Restore", plural: "restores", namespaced: true },
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
  pod: { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true },
  secret: { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  deployment: { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", namespaced: true },
  event: { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events", namespaced: true },
};

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type ZitadelObject = KubeObject & { spec: { replicas: number }; status?: { conditions?: Condition[] } };
type RestoreObject = KubeObject & {
  status?: { phase?: string; restoredDatabase?: string; error?: string; conditions?: Condition[] };
};
type JobObject = KubeObject & {
  spec?: {
    template: { spec: { containers: { args: string[]; env: { name: string; valueFrom?: object }[] }[] } };
  };
  status?: { succeeded?: number };
};
type PodObject = KubeObject & {
  status?: {
    phase?: string;
    containerStatuses?: { name: string; state?: { terminated?: Record<string, unknown> } }[];
  };
};
type DeploymentObject = KubeObject & { spec?: { replicas?: number }; status?: { replicas?: number } };
type SecretObject = KubeObject & { data?: Record<string, string>; immutable?: boolean };

const sql = localSql;

/** Plays `job restore` (test/support/job-simulator.ts): every restore Job succeeds. */
function simulatorFor(ns: string): JobSimulator {
  return new JobSimulator(client, ns, ["restore"], () => ({
    ok: true,
    database: "restored",
    tables: 3,
    masterkey: "matches",
  }));
}

const createdDatabases: string[] = [];
function zitadel(name: string, extra: Record<string, unknown> = {}): KubeObject {
  const database = `zop_rs_${name}_${RUN}`;
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
      ...extra,
    },
  };
}

let ns: string;
let operator: Manager;
let simulator: JobSimulator;
let s3: S3Server;
let store: S3Store;
const s3Destination = () => ({
  bucket: s3.bucket,
  prefix: PREFIX,
  endpoint: s3.endpoint,
  region: s3.region,
  forcePathStyle: true,
  credentialsSecretRef: { name: "s3-credentials" },
});

/** A backup of Zitadel `source` in the store, taken with `masterkey` (encrypted to `recipient`). */
async function putBackup(source: string, name: string, masterkey: string, recipient: string) {
  const dir = `${ns}/${source}/${name}/`;
  const encrypted = await encryptMasterkey(masterkey, [recipient]);
  const dump = Buffer.from("not a real dump: the restore Job is simulated");
  const entry = (b: Uint8Array) => ({ size: b.length, sha256: createHash("sha256").update(b).digest("hex") });
  await store.put(`${dir}dump`, dump);
  await store.put(`${dir}masterkey.age`, encrypted);
  const now = new Date().toISOString();
  const manifest: Manifest = {
    formatVersion: 1,
    engine: "PostgreSQL",
    namespace: ns,
    source,
    backupName: name,
    database: "zitadel",
    serverVersion: "17.0",
    startedAt: now,
    completedAt: now,
    objects: { dump: entry(dump), "masterkey.age": entry(encrypted) },
    tables: [],
    masterkey: { keyId: masterkeyKeyId(masterkey), recipients: [recipient], object: "masterkey.age" },
  };
  await store.put(`${dir}manifest.json`, serializeManifest(manifest));
}

async function secretValue(name: string, key = "masterkey"): Promise<string | undefined> {
  const s = await client.get<SecretObject>(T.secret, ns, name);
  const v = s?.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
}

async function eventsFor(name: string, reason?: string) {
  const { items } = await client.list<KubeObject & { reason?: string; note?: string; type?: string }>(
    T.event,
    {
      namespace: ns,
    },
  );
  return items.filter(
    (e) =>
      (reason === undefined || e.reason === reason) &&
      (e.regarding as { name?: string } | undefined)?.name === name,
  );
}

const ready = (z: ZitadelObject | undefined) => z?.status?.conditions?.find((c) => c.type === "Ready");
const holder = (z: KubeObject | undefined) =>
  z?.metadata?.annotations?.["zitadel-operator.dev/restore-in-progress"];

async function untilReady(name: string) {
  await eventually(
    async () => expect(ready(await client.get<ZitadelObject>(T.zitadel, ns, name))?.status).toBe("True"),
    {
      timeoutMs: 60_000,
      intervalMs: 100,
    },
  );
}

async function untilPhase(name: string, phase: string, timeoutMs = 30_000): Promise<RestoreObject> {
  return eventually(
    async () => {
      const r = await client.get<RestoreObject>(T.restore, ns, name);
      expect(r?.status?.phase, JSON.stringify(r?.status)).toBe(phase);
      return r as RestoreObject;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

const setupJobs = async (zitadelName = "zt") =>
  (
    await client.list<JobObject>(T.job, {
      namespace: ns,
      labelSelector: `app.kubernetes.io/instance=${zitadelName},app.kubernetes.io/component=migration`,
    })
  ).items;

const restoreJobs = async (restore: string) =>
  (
    await client.list<JobObject>(T.job, {
      namespace: ns,
      labelSelector: `app.kubernetes.io/component=restore,zitadel-operator.dev/backup-owner=${restore}`,
    })
  ).items;

/**
 * A timeline of the cluster, sampled every 20 ms while a restore runs: when each of a list of moments was first
 * seen, and whatever broke the rule "no ZITADEL pod while the restore runs, until setup ran again".
 */
function timeline(restore: string, extra: Record<string, () => Promise<boolean>> = {}) {
  const seen: Record<string, number> = {};
  const violations: string[] = [];
  const mark = (what: string) => {
    seen[what] ??= Date.now();
  };
  let sampling = true;
  let original: Set<string | undefined> | undefined;
  const sample = async () => {
    original ??= new Set((await setupJobs()).map((j) => j.metadata?.uid));
    {
      // The reads are not one snapshot, so their order matters: each rule below needs the fact it reads first to
      // still hold when the later ones are read. The restore Jobs come first: a Job seen, then a Deployment with
      // pods, then setup not yet rerun, is a real violation. Read the other way round, a Job created between the
      // two reads (hold, scale-down and Job in a few loaded milliseconds) looked like one.
      const jobs = await restoreJobs(restore);
      const d = await client.get<DeploymentObject>(T.deployment, ns, "zt");
      const z = await client.get<ZitadelObject>(T.zitadel, ns, "zt");
      const setup = (await setupJobs()).filter((j) => !original?.has(j.metadata?.uid));
      const replicas = d?.spec?.replicas ?? -1;
      if (holder(z) === restore) mark("held");
      if (replicas === 0 && (d?.status?.replicas ?? 0) === 0) mark("scaledDown");
      if (jobs.length > 0) mark("restoreJob");
      if (jobs.some((j) => (j.status?.succeeded ?? 0) > 0)) mark("restoreDone");
      for (const [what, check] of Object.entries(extra)) if (await check()) mark(what);
      if (setup.length > 0) mark("setupAgain");
      if (setup.some((j) => (j.status?.succeeded ?? 0) > 0)) mark("setupDone");
      if (seen.scaledDown && replicas > 0) mark("scaledUp");
      if (seen.held && !seen.setupDone && replicas !== 0 && seen.scaledDown)
        violations.push(`Deployment at ${replicas} replicas while held, before setup ran again`);
      if (jobs.length > 0 && !seen.setupDone && replicas !== 0)
        violations.push(
          `Deployment at ${replicas} replicas while the restore Job exists and setup has not rerun`,
        );
      if (z?.spec.replicas === 0) violations.push("spec.replicas was written to 0");
    }
  };
  const done = (async () => {
    while (sampling) {
      await sample();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    seen,
    violations,
    stop: async () => {
      sampling = false;
      await done;
      // One more look: the test may have seen the end state before the sampler's last round did.
      await sample();
    },
    expectOrder(order: string[]) {
      for (const what of order) expect(seen[what], `${what} in ${JSON.stringify(seen)}`).toBeDefined();
      for (let i = 1; i < order.length; i++)
        expect(seen[order[i] as string], `${order[i - 1]} before ${order[i]}`).toBeGreaterThanOrEqual(
          seen[order[i - 1] as string] as number,
        );
    },
  };
}

/** What an autoscaler does: read the scale subresource, write it back with another replica count. */
async function scaleSubresource(name: string, replicas: number) {
  const path = `${client.path(T.zitadel, ns, name, "scale")}`;
  const call = async (method: string, body?: object) => {
    const options: Parameters<typeof request>[1] = {};
    await kc.applyToHTTPSOptions(options);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = request(
        new URL(`${client.server}${path}?fieldManager=horizontal-pod-autoscaler`),
        {
          ...options,
          method,
          headers: {
            ...(options.headers ?? {}),
            accept: "application/json",
            "content-type": "application/json",
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            text += c;
          });
          res.on("end", () =>
            (res.statusCode ?? 0) < 300
              ? resolve(JSON.parse(text))
              : reject(new Error(`${res.statusCode} ${text}`)),
          );
        },
      );
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  };
  const scale = await call("GET");
  await call("PUT", { ...scale, spec: { replicas } });
}

function randomMasterkey(): string {
  return randomBytes(24).toString("base64url").slice(0, 32);
}

beforeAll(async () => {
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "rst");
  s3 = await startS3Server("restores");
  store = new S3Store({
    bucket: s3.bucket,
    prefix: PREFIX,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
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
    stringData: { AWS_ACCESS_KEY_ID: s3.accessKey, AWS_SECRET_ACCESS_KEY: s3.secretKey },
  });
  simulator = simulatorFor(ns).start();
  operator = createOperator({ kubeConfig: kc, log, namespaces: [ns] });
  await operator.start();
  await client.apply(zitadel("zt"));
  await untilReady("zt");
});

afterAll(async () => {
  simulator?.stop();
  await operator?.stop();
  store?.close();
  await s3?.stop();
  for (const database of createdDatabases) await sql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  for (const database of createdDatabases) await sql(`DROP ROLE IF EXISTS "${database}"`);
});

describe("Restore in place", () => {
  it("holds the Zitadel at zero pods before the restore Job, runs setup again, and only then brings the pods back", async () => {
    const { identity } = await newIdentity();
    await putBackup(
      "zt",
      "same-key",
      (await secretValue("zt-masterkey")) ?? "",
      await identityToRecipient(identity),
    );
    const t = timeline("rollback");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "rollback", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "same-key" },
        target: { zitadelRef: { name: "zt" } },
        overwrite: true,
      },
    });
    const done = await untilPhase("rollback", "Completed");
    await t.stop();

    expect(t.violations).toEqual([]);
    t.expectOrder(["held", "scaledDown", "restoreJob", "restoreDone", "setupAgain", "setupDone", "scaledUp"]);
    expect(done.status?.conditions?.find((c) => c.type === "Ready")?.reason).toBe("Completed");
    // The same key: the Job takes the Zitadel's own masterkey Secret, and nothing is staged or kept.
    const [job] = await restoreJobs("rollback");
    expect(job?.spec?.template.spec.containers[0]?.env).toContainEqual({
      name: "ZITADEL_MASTERKEY",
      valueFrom: { secretKeyRef: { name: "zt-masterkey", key: "masterkey" } },
    });
    expect(await client.get(T.secret, ns, "zt-masterkey-before-rollback")).toBeUndefined();
    // The Zitadel is as it was: its spec never written, the annotation gone, Ready with its pod back.
    const z = await client.get<ZitadelObject>(T.zitadel, ns, "zt");
    expect(z?.spec.replicas).toBe(1);
    expect(Object.keys(z?.metadata?.annotations ?? {}).filter((k) => k.includes("restore"))).toEqual([]);
    expect((await client.get<DeploymentObject>(T.deployment, ns, "zt"))?.spec?.replicas).toBe(1);
    for (const reason of ["ScalingDown", "RestoreStarted", "SetupRerun", "ScalingUp", "RestoreCompleted"])
      expect(await eventsFor("rollback", reason), reason).toHaveLength(1);
    await untilReady("zt");
  });

  it("switches to the backup's masterkey when the Secret is the operator's, keeping the old key", async () => {
    const { identity, recipient } = await newIdentity();
    const oldKey = (await secretValue("zt-masterkey")) ?? "";
    const backupKey = randomMasterkey();
    expect(oldKey).toHaveLength(32);
    await putBackup("zt", "other-key", backupKey, recipient);
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "age-identity", namespace: ns },
      stringData: { identity },
    });
    const swapped = async () => (await secretValue("zt-masterkey")) === backupKey;
    const t = timeline("switch", { keySwapped: swapped });
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "switch", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "other-key" },
        target: { zitadelRef: { name: "zt" } },
        overwrite: true,
        ageIdentitySecretRef: { name: "age-identity" },
      },
    });
    const done = await untilPhase("switch", "Completed", 40_000);
    await t.stop();

    expect(t.violations).toEqual([]);
    t.expectOrder([
      "held",
      "scaledDown",
      "restoreJob",
      "restoreDone",
      "keySwapped",
      "setupAgain",
      "setupDone",
      "scaledUp",
    ]);
    // The Job checked the data against the recovered key, staged in a Secret of the Restore's own.
    const restore = await client.get<RestoreObject>(T.restore, ns, "switch");
    const staged = `switch-masterkey-${(restore?.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8)}`;
    const [job] = await restoreJobs("switch");
    expect(job?.spec?.template.spec.containers[0]?.env).toContainEqual({
      name: "ZITADEL_MASTERKEY",
      valueFrom: { secretKeyRef: { name: staged, key: "masterkey" } },
    });
    // The staged Secret is gone; the masterkey Secret holds the backup's key; the old one is kept, unowned.
    await eventually(async () => expect(await client.get(T.secret, ns, staged)).toBeUndefined());
    const current = await client.get<SecretObject>(T.secret, ns, "zt-masterkey");
    expect(await secretValue("zt-masterkey")).toBe(backupKey);
    expect(current?.immutable).toBe(true);
    expect(current?.metadata?.ownerReferences).toBeUndefined();
    const kept = await client.get<SecretObject>(T.secret, ns, "zt-masterkey-before-switch");
    expect(await secretValue("zt-masterkey-before-switch")).toBe(oldKey);
    expect(kept?.immutable).toBe(true);
    expect(kept?.metadata?.ownerReferences).toBeUndefined();
    const replaced = await eventsFor("switch", "MasterkeyReplaced");
    expect(replaced).toHaveLength(1);
    expect(replaced[0]?.note).toContain("zt-masterkey-before-switch");
    // No key and no identity in the status, the Events or the Zitadel's status.
    const said = JSON.stringify([
      done.status,
      await eventsFor("switch"),
      await eventsFor("zt"),
      (await client.get<ZitadelObject>(T.zitadel, ns, "zt"))?.status,
    ]);
    for (const secret of [oldKey, backupKey, identity]) expect(said).not.toContain(secret);
    expect(said).toContain(masterkeyKeyId(backupKey));
    await untilReady("zt");
    // Had the Zitadel stopped for the missing masterkey while it was swapped, that is over.
    const conditions = (await client.get<ZitadelObject>(T.zitadel, ns, "zt"))?.status?.conditions ?? [];
    expect(conditions.find((c) => c.type === "SecretsReady")?.status ?? "True").toBe("True");
  });

  it("fails with MasterkeyMismatch, touching nothing, when the masterkey is the user's own Secret", async () => {
    const userKey = randomMasterkey();
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "zu-key", namespace: ns },
      stringData: { masterkey: userKey },
    });
    await client.apply(zitadel("zu", { masterkeySecretRef: { name: "zu-key" } }));
    await untilReady("zu");
    const { identity, recipient } = await newIdentity();
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "age-identity-zu", namespace: ns },
      stringData: { identity },
    });
    await putBackup("zu", "theirs", randomMasterkey(), recipient);
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "users-key", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "theirs" },
        target: { zitadelRef: { name: "zu" } },
        overwrite: true,
        ageIdentitySecretRef: { name: "age-identity-zu" },
      },
    });
    const failed = await untilPhase("users-key", "Failed");
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")?.reason).toBe("MasterkeyMismatch");
    expect(failed.status?.error).toContain(
      `age -d -i key.txt s3://${s3.bucket}/${PREFIX}/${ns}/zu/theirs/masterkey.age`,
    );
    expect(failed.status?.error).toContain("zu-key");
    // Nothing held, scaled or restored; the user's Secret as it was.
    expect(await restoreJobs("users-key")).toEqual([]);
    const z = await client.get<ZitadelObject>(T.zitadel, ns, "zu");
    expect(holder(z)).toBeUndefined();
    expect((await client.get<DeploymentObject>(T.deployment, ns, "zu"))?.spec?.replicas).toBe(1);
    expect(await eventsFor("users-key", "ScalingDown")).toEqual([]);
    expect(await secretValue("zu-key")).toBe(userKey);
    expect(JSON.stringify([failed.status, await eventsFor("users-key")])).not.toContain(userKey);
  });

  it("fails before touching anything when the identity cannot decrypt the backup's masterkey", async () => {
    const { recipient } = await newIdentity();
    const { identity: wrong } = await newIdentity();
    const before = await client.get<SecretObject>(T.secret, ns, "zt-masterkey");
    await putBackup("zt", "foreign", randomMasterkey(), recipient);
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "wrong-identity", namespace: ns },
      stringData: { identity: wrong },
    });
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "wrong-identity", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "foreign" },
        target: { zitadelRef: { name: "zt" } },
        overwrite: true,
        ageIdentitySecretRef: { name: "wrong-identity" },
      },
    });
    const failed = await untilPhase("wrong-identity", "Failed");
    expect(failed.status?.conditions?.find((c) => c.type === "Ready")?.reason).toBe("MasterkeyNotDecrypted");
    expect(failed.status?.error).toContain("nothing was restored");
    expect(failed.status?.error).not.toContain(wrong);
    expect(await restoreJobs("wrong-identity")).toEqual([]);
    expect(holder(await client.get(T.zitadel, ns, "zt"))).toBeUndefined();
    expect(await eventsFor("wrong-identity", "ScalingDown")).toEqual([]);
    const after = await client.get<SecretObject>(T.secret, ns, "zt-masterkey");
    expect(after?.metadata?.uid).toBe(before?.metadata?.uid);
    expect(await client.get(T.secret, ns, "zt-masterkey-before-wrong-identity")).toBeUndefined();
  });

  it("restores a copy under a new name with the backup's key staged, leaves the Zitadel's key, and names the one it needs", async () => {
    const { identity, recipient } = await newIdentity();
    const backupKey = randomMasterkey();
    const before = await client.get<SecretObject>(T.secret, ns, "zt-masterkey");
    await putBackup("zt", "inspect", backupKey, recipient);
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "inspect-identity", namespace: ns },
      stringData: { identity },
    });
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "inspect", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "inspect" },
        target: { zitadelRef: { name: "zt" }, newDatabaseName: "zitadel_inspect" },
        ageIdentitySecretRef: { name: "inspect-identity" },
      },
    });
    const done = await untilPhase("inspect", "Completed");
    const message = done.status?.conditions?.find((c) => c.type === "Ready")?.message ?? "";
    expect(message).toContain(`needs the backup's masterkey ${masterkeyKeyId(backupKey)}`);
    const [job] = await restoreJobs("inspect");
    const staged = `inspect-masterkey-${(done.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8)}`;
    expect(job?.spec?.template.spec.containers[0]?.env).toContainEqual({
      name: "ZITADEL_MASTERKEY",
      valueFrom: { secretKeyRef: { name: staged, key: "masterkey" } },
    });
    await eventually(async () => expect(await client.get(T.secret, ns, staged)).toBeUndefined());
    // The running Zitadel keeps its key and was never held.
    expect((await client.get<SecretObject>(T.secret, ns, "zt-masterkey"))?.metadata?.uid).toBe(
      before?.metadata?.uid,
    );
    expect(await eventsFor("inspect", "ScalingDown")).toEqual([]);
    expect(JSON.stringify([done.status, await eventsFor("inspect")])).not.toContain(backupKey);
  });

  it("keeps the pods at zero while GitOps and an autoscaler set spec.replicas, then comes back with theirs", async () => {
    const { identity } = await newIdentity();
    await putBackup(
      "zt",
      "held",
      (await secretValue("zt-masterkey")) ?? "",
      await identityToRecipient(identity),
    );
    simulator.hold.add("held");
    const t = timeline("held");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "held", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "held" },
        target: { zitadelRef: { name: "zt" } },
        overwrite: true,
      },
    });
    await eventually(async () => expect((await restoreJobs("held")).length).toBe(1), { timeoutMs: 20_000 });
    const staysAtZero = async (ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        expect((await client.get<DeploymentObject>(T.deployment, ns, "zt"))?.spec?.replicas).toBe(0);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    // A GitSource re-applies the Zitadel from Git: server-side apply of spec.replicas by its own field manager.
    await client.apply(
      { apiVersion: GROUP, kind: "Zitadel", metadata: { name: "zt", namespace: ns }, spec: { replicas: 2 } },
      { fieldManager: "gitsource-platform" },
    );
    expect((await client.get<ZitadelObject>(T.zitadel, ns, "zt"))?.spec.replicas).toBe(2);
    await staysAtZero(2_000);
    // The Zitadel says why it has no pods.
    const z = await client.get<ZitadelObject>(T.zitadel, ns, "zt");
    expect(ready(z)).toMatchObject({ status: "False", reason: "HeldByRestore" });
    expect(ready(z)?.message).toContain("Restore held");
    expect(z?.status?.conditions?.find((c) => c.type === "Available")?.reason).toBe("HeldByRestore");

    // An autoscaler scales it through the scale subresource.
    await scaleSubresource("zt", 3);
    expect((await client.get<ZitadelObject>(T.zitadel, ns, "zt"))?.spec.replicas).toBe(3);
    await staysAtZero(2_000);
    expect(holder(await client.get(T.zitadel, ns, "zt"))).toBe("held");

    simulator.hold.delete("held");
    await untilPhase("held", "Completed", 40_000);
    await t.stop();
    expect(t.violations).toEqual([]);
    t.expectOrder(["held", "scaledDown", "restoreJob", "restoreDone", "setupAgain", "setupDone", "scaledUp"]);
    // Back with what the other writer set; the restore never wrote spec.replicas.
    await eventually(async () =>
      expect((await client.get<DeploymentObject>(T.deployment, ns, "zt"))?.spec?.replicas).toBe(3),
    );
    const after = await client.get<ZitadelObject>(T.zitadel, ns, "zt");
    expect(after?.spec.replicas).toBe(3);
    expect(holder(after)).toBeUndefined();
    const managers =
      (after?.metadata?.managedFields as { manager: string; subresource?: string; fieldsV1?: object }[]) ??
      [];
    const replicasOwners = managers
      .filter((m) => m.subresource !== "status" && JSON.stringify(m.fieldsV1 ?? {}).includes('"f:replicas"'))
      .map((m) => m.manager);
    expect(replicasOwners).not.toContain("zitadel-operator");
    await untilReady("zt");
  });
});

describe("Restore deleted", () => {
  const LINGER = "test.zitadel-operator.dev/linger";
  const podsOf = async (job: string) =>
    (await client.list<PodObject>(T.pod, { namespace: ns, labelSelector: `job-name=${job}` })).items;

  it("deleted while it holds the Zitadel: its Job and pods go, setup runs again, the hold goes, then the Restore", async () => {
    const { identity, recipient } = await newIdentity();
    const keyBefore = await client.get<SecretObject>(T.secret, ns, "zt-masterkey");
    const backupKey = randomMasterkey();
    await putBackup("zt", "abandoned", backupKey, recipient);
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "abandoned-identity", namespace: ns },
      stringData: { identity },
    });
    // The Job gets no result line: from the Restore's side it is still restoring when it is deleted.
    simulator.hold.add("abandoned");
    const t = timeline("abandoned");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "abandoned", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "abandoned" },
        target: { zitadelRef: { name: "zt" } },
        overwrite: true,
        ageIdentitySecretRef: { name: "abandoned-identity" },
      },
    });
    const [job] = await eventually(
      async () => {
        const jobs = await restoreJobs("abandoned");
        expect(jobs).toHaveLength(1);
        expect(await podsOf(jobs[0]?.metadata?.name ?? "")).toHaveLength(1);
        return jobs;
      },
      { timeoutMs: 20_000 },
    );
    const jobName = job?.metadata?.name ?? "";
    const [pod] = await podsOf(jobName);
    const podName = pod?.metadata?.name ?? "";
    // A finalizer of the test's keeps the pod after it is deleted, as a pod still stopping (still writing) stays.
    await client.apply(
      { apiVersion: "v1", kind: "Pod", metadata: { name: podName, namespace: ns, finalizers: [LINGER] } },
      { fieldManager: "test-linger" },
    );
    // kwok ends the pod at once; only the result line, which the restore reads, is missing.
    await eventually(async () =>
      expect((await client.get<JobObject>(T.job, ns, jobName))?.status?.succeeded).toBe(1),
    );
    const restore = await untilPhase("abandoned", "Running");
    expect(restore.metadata?.finalizers).toContain("zitadel-operator.dev/restore-hold");
    expect(holder(await client.get(T.zitadel, ns, "zt"))).toBe("abandoned");
    const staged = `abandoned-masterkey-${(restore.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8)}`;
    expect(await client.get(T.secret, ns, staged)).toBeDefined();

    await client.delete(T.restore, ns, "abandoned");
    // The Job is being deleted, but while a pod of it is left the Zitadel stays held and setup does not rerun.
    await eventually(
      async () =>
        expect((await client.get<JobObject>(T.job, ns, jobName))?.metadata?.deletionTimestamp).toBeDefined(),
      { timeoutMs: 10_000 },
    );
    const lingerUntil = Date.now() + 3_000;
    while (Date.now() < lingerUntil) {
      expect(await client.get(T.restore, ns, "abandoned")).toBeDefined();
      expect(holder(await client.get(T.zitadel, ns, "zt"))).toBe("abandoned");
      expect((await client.get<DeploymentObject>(T.deployment, ns, "zt"))?.spec?.replicas).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(t.seen.setupAgain).toBeUndefined();
    const deleting = await client.get<RestoreObject>(T.restore, ns, "abandoned");
    expect(deleting?.status?.conditions?.find((c) => c.type === "Ready")?.reason).toBe("DeletedWhileHolding");
    const podGone = Date.now();
    await client.apply(
      { apiVersion: "v1", kind: "Pod", metadata: { name: podName, namespace: ns, finalizers: [] } },
      { fieldManager: "test-linger" },
    );

    await eventually(async () => expect(await client.get(T.restore, ns, "abandoned")).toBeUndefined(), {
      timeoutMs: 40_000,
      intervalMs: 200,
    });
    const z = await client.get<ZitadelObject>(T.zitadel, ns, "zt");
    expect(holder(z)).toBeUndefined();
    await eventually(
      async () =>
        expect((await client.get<DeploymentObject>(T.deployment, ns, "zt"))?.spec?.replicas).toBe(
          z?.spec.replicas,
        ),
      { timeoutMs: 30_000 },
    );
    await untilReady("zt");
    await t.stop();
    expect(t.violations).toEqual([]);
    t.expectOrder(["held", "scaledDown", "restoreJob", "setupAgain", "setupDone", "scaledUp"]);
    expect(t.seen.setupAgain).toBeGreaterThanOrEqual(podGone);
    expect(await restoreJobs("abandoned")).toEqual([]);
    expect(await podsOf(jobName)).toEqual([]);
    // Nobody knows whether the database was replaced: the backup's key was not put in place, the staged copy is gone.
    expect((await client.get<SecretObject>(T.secret, ns, "zt-masterkey"))?.metadata?.uid).toBe(
      keyBefore?.metadata?.uid,
    );
    expect(await client.get(T.secret, ns, "zt-masterkey-before-abandoned")).toBeUndefined();
    expect(await client.get(T.secret, ns, staged)).toBeUndefined();
    const warnings = await eventsFor("zt", "RestoreDeleted");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.type).toBe("Warning");
    expect(warnings[0]?.note).toContain("Restore abandoned was deleted");
    expect(warnings[0]?.note).toContain("without reporting a result");
    expect(warnings[0]?.note).toContain(`was not put in place`);
    expect(warnings[0]?.note).toContain(masterkeyKeyId(backupKey));
    const said = JSON.stringify([deleting?.status, await eventsFor("zt"), await eventsFor("abandoned")]);
    for (const secret of [backupKey, identity]) expect(said).not.toContain(secret);
  });

  it("a Restore that holds nothing carries no finalizer and is deleted at once", async () => {
    const { identity } = await newIdentity();
    await putBackup(
      "zt",
      "copy",
      (await secretValue("zt-masterkey")) ?? "",
      await identityToRecipient(identity),
    );
    simulator.hold.add("copy");
    await client.apply({
      apiVersion: GROUP,
      kind: "Restore",
      metadata: { name: "copy", namespace: ns },
      spec: {
        location: { s3: s3Destination(), backup: "copy" },
        target: { zitadelRef: { name: "zt" }, newDatabaseName: "zitadel_copy" },
      },
    });
    await eventually(async () => expect(await restoreJobs("copy")).toHaveLength(1), { timeoutMs: 20_000 });
    const running = await untilPhase("copy", "Running");
    expect(running.metadata?.finalizers ?? []).toEqual([]);
    expect(holder(await client.get(T.zitadel, ns, "zt"))).not.toBe("copy");
    await client.delete(T.restore, ns, "copy");
    await eventually(async () => expect(await client.get(T.restore, ns, "copy")).toBeUndefined(), {
      timeoutMs: 3_000,
      intervalMs: 50,
    });
    expect(await eventsFor("zt", "RestoreDeleted")).toHaveLength(1);
  });
});

async function newIdentity() {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}
