// The Zitadel controller against the real control plane (kwok runs the pods: Deployment pods become Ready, Job
// pods complete, and a Job pod whose image names simulate-failure fails) and the real PostgreSQL on
// 127.0.0.1:5432 (trust authentication, user postgres). One Zitadel goes through its life in order: install,
// a restart that changes nothing, an upgrade, a failed upgrade, a configuration change, deletion.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COCKROACH_CLUSTER } from "../../src/controllers/zitadel/database-cockroach.ts";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const log = createLogger({ level: "error" });
const RUN = `${process.pid}_${Date.now().toString(36)}`;
const ADMIN_PASSWORD = "admin-password-never-leaves-the-operator";

const T = {
  zitadel: {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "Zitadel",
    plural: "zitadels",
    namespaced: true,
  },
  secret: { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  job: { apiVersion: "batch/v1", kind: "Job", plural: "jobs", namespaced: true },
  deployment: { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", namespaced: true },
  replicaSet: { apiVersion: "apps/v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true },
  configMap: { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  event: { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events", namespaced: true },
};

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type ZitadelObject = KubeObject & {
  spec: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    migratedVersion?: string;
    currentVersion?: string;
    readyReplicas?: number;
    masterkeySecretName?: string;
  };
};
type Secret = KubeObject & { data?: Record<string, string>; immutable?: boolean };
type Job = KubeObject & { status?: { succeeded?: number; completionTime?: string } };
type Deployment = KubeObject & {
  spec: {
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: { containers: { image: string }[] };
    };
  };
};

async function sql<Row = Record<string, unknown>>(
  text: string,
  values: unknown[] = [],
  database = "postgres",
) {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database, ssl: false });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as Row[];
  } finally {
    await c.end();
  }
}

const createdDatabases: string[] = [];
const createdRoles: string[] = [];
function databaseName(label: string): string {
  const name = `zop_${label}_${RUN}`;
  createdDatabases.push(name);
  createdRoles.push(name);
  return name;
}

function zitadel(
  ns: string,
  name: string,
  database: string,
  extra: Record<string, unknown> = {},
): ZitadelObject {
  return {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "Zitadel",
    metadata: { name, namespace: ns },
    spec: {
      version: "v4.1.0",
      replicas: 1,
      externalDomain: `${name}.example.com`,
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

async function live(ns: string, name: string): Promise<ZitadelObject | undefined> {
  return client.get<ZitadelObject>(T.zitadel, ns, name);
}

function condition(z: ZitadelObject | undefined, type: string): Condition | undefined {
  return z?.status?.conditions?.find((c) => c.type === type);
}

async function ready(ns: string, name: string, version: string, timeoutMs = 60_000): Promise<ZitadelObject> {
  return eventually(
    async () => {
      const z = await live(ns, name);
      const r = condition(z, "Ready");
      expect(r?.status, JSON.stringify(z?.status?.conditions)).toBe("True");
      expect(z?.status?.currentVersion).toBe(version);
      expect(z?.metadata?.generation).toBe(
        (z?.status as { observedGeneration?: number })?.observedGeneration,
      );
      return z as ZitadelObject;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

async function patchSpec(ns: string, name: string, spec: Record<string, unknown>): Promise<void> {
  const z = await live(ns, name);
  await client.apply({ ...zitadel(ns, name, ""), spec: { ...z?.spec, ...spec } }, { fieldManager: "test" });
}

async function deployment(ns: string, name: string): Promise<Deployment | undefined> {
  return client.get<Deployment>(T.deployment, ns, name);
}

const image = (d: Deployment | undefined) => d?.spec.template.spec.containers[0]?.image;

async function setupJobs(ns: string, name: string): Promise<Job[]> {
  const { items } = await client.list<Job>(T.job, {
    namespace: ns,
    labelSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/component=migration`,
  });
  return items;
}

/** The ReplicaSets of the Deployment whose pods run `image`, oldest first. */
async function replicaSetsWith(ns: string, img: string) {
  const { items } = await client.list<Deployment>(T.replicaSet, { namespace: ns });
  return items.filter((rs) => image(rs) === img);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

let ns: string;
let operator: Manager;
const start = async () => {
  operator = createOperator({ kubeConfig: kc, log, namespaces: [ns] });
  await operator.start();
};

beforeAll(async () => {
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "zitadel");
  // Trust authentication accepts any password; the point is where this one ends up (nowhere but here).
  await client.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "pg-admin", namespace: ns },
    stringData: { username: "postgres", password: ADMIN_PASSWORD },
  });
  await start();
});

afterAll(async () => {
  await operator?.stop();
  for (const database of createdDatabases) await sql(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  for (const role of createdRoles) await sql(`DROP ROLE IF EXISTS "${role}"`);
});

describe("a Zitadel on PostgreSQL, from install to deletion", () => {
  const name = "zt";
  let database: string;

  it("bootstraps its database and role with exactly the intended grants, runs setup, then starts the pods", async () => {
    database = databaseName("main");
    const t0 = Date.now();
    await client.apply(zitadel(ns, name, database, { login: { enabled: true, replicas: 1 } }));
    const z = await ready(ns, name, "v4.1.0");
    console.info(`install to Ready: ${seconds(t0)}`);
    expect(z.status?.migratedVersion).toBe("v4.1.0");
    expect(condition(z, "DatabaseReady")).toMatchObject({ status: "True", reason: "Bootstrapped" });
    expect(condition(z, "Migrated")).toMatchObject({ status: "True", reason: "SetupSucceeded" });

    // The role: may log in, nothing else; the database: owned by the admin, the role holds exactly CONNECT (c),
    // CREATE (C) and TEMPORARY (T), PUBLIC holds nothing.
    const [role] = await sql(
      "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1",
      [database],
    );
    expect(role).toEqual({
      rolcanlogin: true,
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
      rolbypassrls: false,
    });
    const [db] = await sql<{ owner: string; acl: string }>(
      "SELECT pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname = $1",
      [database],
    );
    expect(db?.owner).toBe("postgres");
    expect(db?.acl).toBe(`{postgres=CTc/postgres,${database}=CTc/postgres}`);
    const memberships = await sql(
      "SELECT 1 FROM pg_auth_members WHERE member = (SELECT oid FROM pg_roles WHERE rolname = $1)",
      [database],
    );
    expect(memberships).toEqual([]);

    // The masterkey: 32 characters, immutable, no owner (it outlives the Zitadel).
    const masterkey = await client.get<Secret>(T.secret, ns, `${name}-masterkey`);
    expect(Buffer.from(masterkey?.data?.masterkey ?? "", "base64").toString()).toHaveLength(32);
    expect(masterkey?.immutable).toBe(true);
    expect(masterkey?.metadata?.ownerReferences ?? []).toEqual([]);
    expect(z.status?.masterkeySecretName).toBe(`${name}-masterkey`);

    // The login UI runs beside it with a key pair the operator made: the public half in ZITADEL's configuration,
    // the private half in a Secret only the login pods mount.
    expect(image(await deployment(ns, `${name}-login`))).toBe("ghcr.io/zitadel/zitadel-login:v4.1.0");
    const loginKey = await client.get<Secret>(T.secret, ns, `${name}-login-key`);
    expect(Buffer.from(loginKey?.data?.["private-key"] ?? "", "base64").toString()).toMatch(
      /^[A-Za-z0-9+/=]+$/,
    );
    const config = await mountedConfig(ns, name);
    expect(config?.data?.["zitadel.yaml"]).toContain("zitadel-login:");

    // The setup Job completed before the first ReplicaSet was made.
    const [job] = await setupJobs(ns, name);
    expect(job?.metadata?.name).toMatch(/^zt-setup-v4-1-0-[0-9a-f]{8}$/);
    const [rs] = await replicaSetsWith(ns, "ghcr.io/zitadel/zitadel:v4.1.0");
    expect(Date.parse(rs?.metadata?.creationTimestamp ?? "")).toBeGreaterThanOrEqual(
      Date.parse(job?.status?.completionTime ?? "x"),
    );

    // ZITADEL's pods, its configuration and our Events never hold the admin's password, in any encoding.
    const everything = JSON.stringify(
      await Promise.all(
        [T.secret, T.configMap, T.job, T.deployment, T.event].map(async (type) =>
          (await client.list(type, { namespace: ns })).items.filter((o) => o.metadata?.name !== "pg-admin"),
        ),
      ),
    );
    expect(everything).not.toContain(ADMIN_PASSWORD);
    expect(everything).not.toContain(Buffer.from(ADMIN_PASSWORD).toString("base64"));
    expect(everything).not.toContain('"pg-admin"');
  });

  it("changes nothing, in PostgreSQL or Kubernetes, when a restarted operator reconciles it again", async () => {
    const catalog = () =>
      sql(
        "SELECT (SELECT xmin::text || rolpassword FROM pg_authid WHERE rolname = $1) AS role, " +
          "(SELECT xmin::text || datacl::text FROM pg_database WHERE datname = $1) AS database",
        [database],
      );
    const versions = async () =>
      JSON.stringify(
        await Promise.all(
          [T.zitadel, T.secret, T.configMap, T.job, T.deployment].map(async (type) =>
            (await client.list(type, { namespace: ns })).items.map(
              (o) => `${o.metadata?.name}@${o.metadata?.resourceVersion}`,
            ),
          ),
        ),
      );
    await operator.stop();
    const [before, beforeVersions] = [await catalog(), await versions()];
    const sessions = async () =>
      Number(
        (
          await sql<{ n: string }>("SELECT sessions::text AS n FROM pg_stat_database WHERE datname = $1", [
            database,
          ])
        )[0]?.n ?? 0,
      );
    const sessionsBefore = await sessions();
    await start();
    // The new operator reconciles every Zitadel once it has synced, and bootstrap runs again: it ends by logging
    // in as ZITADEL's role (a new session in its database). It must have found nothing to do.
    await eventually(async () => expect(await sessions()).toBeGreaterThan(sessionsBefore), {
      timeoutMs: 15_000,
    });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(operator.client.writes).toBe(0);
    expect(await catalog()).toEqual(before);
    expect(await versions()).toBe(beforeVersions);
  });

  it("upgrades v4.1.0 → v4.2.0 by running setup for v4.2.0 first and only then changing the Deployment", async () => {
    const t0 = Date.now();
    // Watch the Deployment while the upgrade happens: it must never show v4.2.0 before setup for it succeeded.
    const samples: { image?: string; setupDone: boolean }[] = [];
    let watching = true;
    const sampler = (async () => {
      while (watching) {
        // The Deployment first: if it shows v4.2.0, setup must have succeeded before, so it still has when the
        // Jobs are read next. The other order could see setup finish and the rollout start between two reads.
        const shown = image(await deployment(ns, name));
        const jobs = await setupJobs(ns, name);
        const done = jobs.some(
          (j) => j.metadata?.name?.startsWith("zt-setup-v4-2-0-") && (j.status?.succeeded ?? 0) > 0,
        );
        samples.push({ image: shown, setupDone: done });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await patchSpec(ns, name, { version: "v4.2.0" });
    const z = await ready(ns, name, "v4.2.0");
    watching = false;
    await sampler;
    console.info(`upgrade to Ready: ${seconds(t0)}, ${samples.length} samples`);
    expect(z.status?.migratedVersion).toBe("v4.2.0");
    expect(samples.filter((s) => s.image === "ghcr.io/zitadel/zitadel:v4.2.0" && !s.setupDone)).toEqual([]);
    expect(samples.some((s) => s.image === "ghcr.io/zitadel/zitadel:v4.1.0")).toBe(true);

    const job = (await setupJobs(ns, name)).find((j) => j.metadata?.name?.startsWith("zt-setup-v4-2-0-"));
    const [rs] = await replicaSetsWith(ns, "ghcr.io/zitadel/zitadel:v4.2.0");
    expect(Date.parse(rs?.metadata?.creationTimestamp ?? "")).toBeGreaterThanOrEqual(
      Date.parse(job?.status?.completionTime ?? "x"),
    );
    // The v4.1.0 Job is superseded and deleted.
    await eventually(async () =>
      expect((await setupJobs(ns, name)).map((j) => j.metadata?.name)).toEqual([job?.metadata?.name]),
    );
  });

  it("keeps v4.2.0 running and reports why when setup for v4.3.0 fails", async () => {
    const t0 = Date.now();
    const before = await deployment(ns, name);
    await patchSpec(ns, name, {
      version: "v4.3.0",
      image: "registry.example/simulate-failure/zitadel:v4.3.0",
    });
    const z = await eventually(
      async () => {
        const z = await live(ns, name);
        const migrated = condition(z, "Migrated");
        expect(migrated?.status).toBe("False");
        expect(migrated?.reason).toMatch(/^SetupFail(ing|ed)$/);
        expect(migrated?.message).toContain("simulated failure: the image name asks for it");
        expect(migrated?.message).toContain("v4.2.0 keeps running");
        return z as ZitadelObject;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    console.info(`failed setup reported: ${seconds(t0)}`);
    expect(condition(z, "Ready")).toMatchObject({
      status: "False",
      reason: condition(z, "Migrated")?.reason,
    });
    expect(condition(z, "Available")?.status).toBe("True");
    expect(z.status?.migratedVersion).toBe("v4.2.0");
    expect(z.status?.currentVersion).toBe("v4.2.0");
    // The Deployment is untouched: same generation, same image.
    const after = await deployment(ns, name);
    expect(after?.metadata?.generation).toBe(before?.metadata?.generation);
    expect(image(after)).toBe("ghcr.io/zitadel/zitadel:v4.2.0");

    // Going back to v4.2.0 finds its succeeded setup: Ready again without a new Job or a roll.
    const { image: _drop, ...spec } = (await live(ns, name))?.spec ?? {};
    await client.apply(
      { ...zitadel(ns, name, ""), spec: { ...spec, version: "v4.2.0" } },
      { fieldManager: "test" },
    );
    await eventually(async () => expect(condition(await live(ns, name), "Ready")?.status).toBe("True"), {
      timeoutMs: 30_000,
    });
    expect((await deployment(ns, name))?.metadata?.generation).toBe(before?.metadata?.generation);
    await eventually(async () =>
      expect((await setupJobs(ns, name)).map((j) => j.metadata?.name)).toHaveLength(1),
    );
  });

  it("rolls the pods on a configuration change, after setup for that configuration", async () => {
    const t0 = Date.now();
    const before = await deployment(ns, name);
    await patchSpec(ns, name, { config: { Log: { Level: "debug" } } });
    await eventually(
      async () => {
        const d = await deployment(ns, name);
        expect(d?.metadata?.generation).not.toBe(before?.metadata?.generation);
        expect(condition(await live(ns, name), "Ready")?.status).toBe("True");
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    console.info(`config change to Ready: ${seconds(t0)}`);
    const after = await deployment(ns, name);
    const key = "zitadel-operator.dev/config-sha256";
    expect(after?.spec.template.metadata.annotations?.[key]).not.toBe(
      before?.spec.template.metadata.annotations?.[key],
    );
    expect(image(after)).toBe("ghcr.io/zitadel/zitadel:v4.2.0");
    const jobs = await setupJobs(ns, name);
    expect(jobs).toHaveLength(1);
    const { items: sets } = await client.list<Deployment>(T.replicaSet, { namespace: ns });
    const rolled = sets.find(
      (rs) =>
        rs.spec.template.metadata.annotations?.[key] === after?.spec.template.metadata.annotations?.[key] &&
        image(rs) === "ghcr.io/zitadel/zitadel:v4.2.0",
    );
    expect(Date.parse(rolled?.metadata?.creationTimestamp ?? "")).toBeGreaterThanOrEqual(
      Date.parse(jobs[0]?.status?.completionTime ?? "x"),
    );
    const configMap = await mountedConfig(ns, name);
    expect(configMap?.data?.["zitadel.yaml"]).toContain("Level: debug");
    // Configurations are named by content: the one the old pods mounted stayed until every pod ran the new
    // one, then it is deleted.
    await eventually(async () => {
      const { items } = await client.list(T.configMap, {
        namespace: ns,
        labelSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/component=config`,
      });
      expect(items.map((c) => c.metadata?.name)).toEqual([configMap?.metadata?.name]);
    });
  });

  it("refuses to go back to a version older than the one the database was migrated to", async () => {
    const before = await deployment(ns, name);
    await patchSpec(ns, name, { version: "v4.1.0" });
    const z = await eventually(async () => {
      const z = await live(ns, name);
      expect(condition(z, "Migrated")?.reason).toBe("DowngradeRefused");
      return z;
    });
    expect(condition(z, "Ready")?.reason).toBe("DowngradeRefused");
    expect(condition(z, "Migrated")?.message).toContain("v4.2.0 keeps running");
    expect(await setupJobs(ns, name)).toHaveLength(1);
    expect((await deployment(ns, name))?.metadata?.generation).toBe(before?.metadata?.generation);
    await patchSpec(ns, name, { version: "v4.2.0" });
    await ready(ns, name, "v4.2.0", 30_000);
  });

  it("leaves the database, its role and the masterkey in place when deleted (deletionPolicy Retain, the default)", async () => {
    const z = await live(ns, name);
    expect(z?.metadata?.finalizers ?? []).toEqual([]);
    await client.delete(T.zitadel, ns, name);
    await eventually(async () => expect(await live(ns, name)).toBeUndefined());
    // Owned objects go with it (the garbage collector); what holds data stays.
    await eventually(async () => expect(await deployment(ns, name)).toBeUndefined(), { timeoutMs: 30_000 });
    expect(await client.get(T.secret, ns, `${name}-masterkey`)).toBeDefined();
    expect(await client.get(T.secret, ns, `${name}-postgres-user`)).toBeDefined();
    expect(await sql("SELECT 1 FROM pg_database WHERE datname = $1", [database])).toHaveLength(1);
    expect(await sql("SELECT 1 FROM pg_roles WHERE rolname = $1", [database])).toHaveLength(1);
  });
});

describe("database failures and the opt-in to delete", () => {
  it("names the cause when the admin cannot log in, creates nothing, and recovers once the Secret is fixed", async () => {
    const database = databaseName("badadmin");
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "wrong-admin", namespace: ns },
      stringData: { username: `nobody_${RUN}`, password: "wrong" },
    });
    await client.apply(
      zitadel(ns, "bad", database, {
        database: {
          postgres: {
            host: "127.0.0.1",
            port: 5432,
            database,
            sslMode: "disable",
            adminSecretRef: { name: "wrong-admin" },
          },
        },
      }),
    );
    const z = await eventually(async () => {
      const z = await live(ns, "bad");
      expect(condition(z, "DatabaseReady")?.reason).toBe("AdminAuthenticationFailed");
      return z;
    });
    expect(condition(z, "Ready")).toMatchObject({ status: "False", reason: "AdminAuthenticationFailed" });
    expect(condition(z, "DatabaseReady")?.message).toContain(`admin user "nobody_${RUN}"`);
    expect(await sql("SELECT 1 FROM pg_database WHERE datname = $1", [database])).toEqual([]);
    expect(await sql("SELECT 1 FROM pg_roles WHERE rolname = $1", [database])).toEqual([]);
    expect(await setupJobs(ns, "bad")).toEqual([]);

    // Fixed: the retry with backoff picks it up (no event of ours announces a change of the user's Secret).
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "wrong-admin", namespace: ns },
      stringData: { username: "postgres", password: "now-right" },
    });
    await eventually(
      async () => expect(condition(await live(ns, "bad"), "DatabaseReady")?.status).toBe("True"),
      {
        timeoutMs: 30_000,
      },
    );
  });

  it("names an unreachable database and starts nothing", async () => {
    const database = databaseName("unreachable");
    await client.apply(
      zitadel(ns, "far", database, {
        database: {
          postgres: {
            host: "127.0.0.1",
            port: 1,
            database,
            sslMode: "disable",
            adminSecretRef: { name: "pg-admin" },
          },
        },
      }),
    );
    const z = await eventually(async () => {
      const z = await live(ns, "far");
      expect(condition(z, "DatabaseReady")?.reason).toBe("DatabaseUnreachable");
      return z;
    });
    expect(condition(z, "DatabaseReady")?.message).toBe(
      "cannot reach PostgreSQL at 127.0.0.1:1: connection refused",
    );
    expect(condition(z, "Ready")?.reason).toBe("DatabaseUnreachable");
    expect(await setupJobs(ns, "far")).toEqual([]);
    expect(await client.get(T.secret, ns, "far-masterkey")).toBeUndefined();
  });

  it("names a missing privilege of the admin and creates nothing", async () => {
    const database = databaseName("weak");
    const weak = `zop_weakadmin_${RUN}`;
    createdRoles.push(weak);
    await sql(`CREATE ROLE "${weak}" LOGIN`);
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "weak-admin", namespace: ns },
      stringData: { username: weak, password: "x" },
    });
    await client.apply(
      zitadel(ns, "weak", database, {
        database: {
          postgres: {
            host: "127.0.0.1",
            port: 5432,
            database,
            sslMode: "disable",
            adminSecretRef: { name: "weak-admin" },
          },
        },
      }),
    );
    const z = await eventually(async () => {
      const z = await live(ns, "weak");
      expect(condition(z, "DatabaseReady")?.reason).toBe("AdminPrivilegesMissing");
      return z;
    });
    expect(condition(z, "DatabaseReady")?.message).toContain("CREATEROLE");
    expect(await sql("SELECT 1 FROM pg_database WHERE datname = $1", [database])).toEqual([]);
    expect(await sql("SELECT 1 FROM pg_roles WHERE rolname = $1", [database])).toEqual([]);
  });

  it("drops the database and its role on deletion with deletionPolicy.database: Delete, and still keeps the masterkey", async () => {
    const database = databaseName("dropme");
    // A masterkey Secret that exists already (restored from a backup, say) is used, never replaced.
    const masterkey = "0123456789abcdefghijABCDEFGHIJ-_";
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "dropme-masterkey", namespace: ns },
      stringData: { masterkey },
    });
    await client.apply(zitadel(ns, "dropme", database, { deletionPolicy: { database: "Delete" } }));
    await ready(ns, "dropme", "v4.1.0");
    expect((await live(ns, "dropme"))?.metadata?.finalizers).toEqual(["zitadel-operator.dev/cleanup"]);
    await client.delete(T.zitadel, ns, "dropme");
    await eventually(async () => expect(await live(ns, "dropme")).toBeUndefined());
    expect(await sql("SELECT 1 FROM pg_database WHERE datname = $1", [database])).toEqual([]);
    expect(await sql("SELECT 1 FROM pg_roles WHERE rolname = $1", [database])).toEqual([]);
    expect(await client.get(T.secret, ns, "dropme-postgres-user")).toBeUndefined();
    const kept = await client.get<Secret>(T.secret, ns, "dropme-masterkey");
    expect(Buffer.from(kept?.data?.masterkey ?? "", "base64").toString()).toBe(masterkey);
  });
});

describe("a Zitadel v2 on CockroachDB", () => {
  it("waits for its CockroachCluster, creates its user with a SQL Job as root, and mounts only its own certificate", async () => {
    const t0 = Date.now();
    await client.apply({
      apiVersion: "zitadel-operator.dev/v1alpha1",
      kind: "Zitadel",
      metadata: { name: "zc", namespace: ns },
      spec: {
        version: "v2.71.0",
        replicas: 1,
        externalDomain: "zc.example.com",
        database: { cockroach: { clusterRef: { name: "crdb" } } },
      },
    });
    await eventually(async () =>
      expect(condition(await live(ns, "zc"), "DatabaseReady")?.reason).toBe("CockroachClusterNotFound"),
    );
    await client.apply({
      apiVersion: "zitadel-operator.dev/v1alpha1",
      kind: "CockroachCluster",
      metadata: { name: "crdb", namespace: ns },
      spec: { version: "v24.3.5", nodes: 3 },
    });
    const z = await ready(ns, "zc", "v2.71.0", 120_000);
    console.info(`CockroachDB: Zitadel Ready ${seconds(t0)} after it was created`);
    expect(condition(z, "DatabaseReady")?.message).toContain("crdb-client-zitadel");

    const { items: jobs } = await client.list<KubeObject & { spec: unknown }>(T.job, { namespace: ns });
    const sqlJob = jobs.find((j) => j.metadata?.name?.startsWith("crdb-zitadel-user-"));
    expect(JSON.stringify(sqlJob?.spec)).toContain("CREATE USER IF NOT EXISTS");
    const pods = JSON.stringify([await deployment(ns, "zc"), ...(await setupJobs(ns, "zc"))]);
    expect(pods).toContain('"secretName":"crdb-client-zitadel"');
    expect(pods).not.toContain("crdb-client-root");
  });

  it("creates the users of spec.users with one SQL Job, and again only when the list changes", async () => {
    const apply = (users: string[]) =>
      client.apply({
        apiVersion: "zitadel-operator.dev/v1alpha1",
        kind: "CockroachCluster",
        metadata: { name: "crdb", namespace: ns },
        spec: { version: "v24.3.5", nodes: 3, users: users.map((name) => ({ name })) },
      });
    const usersJobs = async () =>
      (await client.list<KubeObject & { spec: unknown }>(T.job, { namespace: ns })).items.filter((j) =>
        j.metadata?.name?.startsWith("crdb-users-"),
      );
    // UsersReady is True and names exactly these users (a condition of the previous list does not count).
    const usersReady = (listed: string) =>
      eventually(
        async () => {
          const c = await client.get<ZitadelObject>(COCKROACH_CLUSTER, ns, "crdb");
          const users = condition(c, "UsersReady");
          expect(users?.status, JSON.stringify(c?.status?.conditions)).toBe("True");
          expect(users?.message).toContain(`SQL users ${listed} exist`);
        },
        { timeoutMs: 60_000 },
      );
    await apply(["reporting", "audit"]);
    await usersReady('"audit", "reporting"');
    const [first] = await usersJobs();
    expect(JSON.stringify(first?.spec)).toContain('CREATE USER IF NOT EXISTS \\"audit\\";');
    expect(JSON.stringify(first?.spec)).toContain('CREATE USER IF NOT EXISTS \\"reporting\\";');
    expect(await client.get(T.secret, ns, "crdb-client-reporting")).toBeDefined();

    // The same users in another order run nothing; a new one runs a new Job.
    await apply(["audit", "reporting"]);
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await usersJobs()).map((j) => j.metadata?.name)).toEqual([first?.metadata?.name]);
    await apply(["audit", "reporting", "billing"]);
    await eventually(async () => expect(await usersJobs()).toHaveLength(2), { timeoutMs: 30_000 });
    await usersReady('"audit", "billing", "reporting"');
  });

  it("drops its database with deletionPolicy.database: Delete by a SQL Job, and its user unless another Zitadel connects as it", async () => {
    const onCockroach = (name: string, cockroach: Record<string, unknown>) =>
      client.apply({
        apiVersion: "zitadel-operator.dev/v1alpha1",
        kind: "Zitadel",
        metadata: { name, namespace: ns },
        spec: {
          version: "v2.71.0",
          replicas: 1,
          externalDomain: `${name}.example.com`,
          database: { cockroach: { clusterRef: { name: "crdb" }, ...cockroach } },
          deletionPolicy: { database: "Delete" },
        },
      });
    const jobNames = async () =>
      (await client.list<KubeObject>(T.job, { namespace: ns })).items.map((j) => j.metadata?.name ?? "");
    const deleted = async (name: string) => {
      await client.delete(T.zitadel, ns, name);
      await eventually(async () => expect(await live(ns, name)).toBeUndefined(), { timeoutMs: 60_000 });
      const { items } = await client.list<
        KubeObject & { regarding?: { name?: string }; reason?: string; note?: string }
      >(T.event, { namespace: ns });
      return items.filter((e) => e.regarding?.name === name).map((e) => `${e.reason}: ${e.note}`);
    };

    // Same user as Zitadel zc, database of its own: the database goes, the user stays.
    await onCockroach("zd", { database: "zd_db" });
    await ready(ns, "zd", "v2.71.0", 120_000);
    expect((await live(ns, "zd"))?.metadata?.finalizers).toEqual(["zitadel-operator.dev/cleanup"]);
    const bootstraps = (await jobNames()).filter((n) => n.startsWith("crdb-zitadel-user-"));
    expect(bootstraps).toHaveLength(2);
    let events = await deleted("zd");
    expect(events.join("\n")).toMatch(/DatabaseDeleted: .*dropped database "zd_db" \(user "zitadel" is kept/);
    // zd's bootstrap Job went (a new zd would run it again), zc's stays; the drop Job is gone as well.
    let left = await jobNames();
    expect(left.filter((n) => n.startsWith("crdb-zitadel-user-"))).toHaveLength(1);
    expect(left.filter((n) => n.startsWith("crdb-zitadel-drop-"))).toEqual([]);
    expect(await live(ns, "zc")).toBeDefined();

    // A user of its own (listed in the cluster's spec.users for its certificate): both go.
    await onCockroach("ze", { database: "ze_db", user: "reporting" });
    await ready(ns, "ze", "v2.71.0", 120_000);
    events = await deleted("ze");
    expect(events.join("\n")).toMatch(/DatabaseDeleted: .*dropped database "ze_db" and user "reporting";/);
    left = await jobNames();
    expect(left.filter((n) => n.startsWith("crdb-zitadel-drop-"))).toEqual([]);
  });
});

/** The config ConfigMap the ZITADEL Deployment mounts (its name carries a hash of its content). */
async function mountedConfig(namespace: string, name: string) {
  const d = await client.get<
    KubeObject & { spec?: { template?: { spec?: { volumes?: { configMap?: { name?: string } }[] } } } }
  >(T.deployment, namespace, name);
  const configMapName = d?.spec?.template?.spec?.volumes?.find((v) => v.configMap)?.configMap?.name ?? "";
  return client.get<KubeObject & { data?: Record<string, string> }>(T.configMap, namespace, configMapName);
}
