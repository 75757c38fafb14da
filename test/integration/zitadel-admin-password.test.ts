import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { type PrivateServer, startPrivateServer } from "../support/postgres-server.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const ADMIN_PASSWORD = "Admin-password-9876543210";
const WRONG_PASSWORD = "Wrong-admin-password-that-must-not-leak";
const T = {
  zitadel: {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "Zitadel",
    plural: "zitadels",
    namespaced: true,
  },
  secret: { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  event: { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events", namespaced: true },
};
type Condition = { type: string; status: string; reason: string; message: string };
type ZitadelObject = KubeObject & { status?: { conditions?: Condition[] } };

let server: PrivateServer;
let operator: Manager;
let ns: string;

beforeAll(async () => {
  server = await startPrivateServer(ADMIN_PASSWORD);
  await installCrds(client, () => {});
  ns = await testNamespace(kc, "zitadel-pw");
  operator = createOperator({ kubeConfig: kc, log: createLogger({ level: "error" }), namespaces: [ns] });
  await operator.start();
}, 120_000);
afterAll(async () => {
  await operator?.stop();
  await server?.stop();
});

async function adminSecret(password: string) {
  await client.apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "pg-admin", namespace: ns },
    stringData: { username: "postgres", password },
  });
}

describe("a Zitadel whose PostgreSQL checks passwords", () => {
  it("reports a wrong admin password as AdminAuthenticationFailed, never repeating it, and creates nothing", async () => {
    await adminSecret(WRONG_PASSWORD);
    await client.apply({
      apiVersion: "zitadel-operator.dev/v1alpha1",
      kind: "Zitadel",
      metadata: { name: "zt", namespace: ns },
      spec: {
        version: "v4.1.0",
        replicas: 1,
        externalDomain: "zt.example.com",
        database: {
          postgres: {
            host: "127.0.0.1",
            port: server.port,
            database: "zitadel",
            sslMode: "disable",
            adminSecretRef: { name: "pg-admin" },
          },
        },
      },
    });
    const database = await eventually(async () => {
      const z = await client.get<ZitadelObject>(T.zitadel, ns, "zt");
      const c = z?.status?.conditions?.find((x) => x.type === "DatabaseReady");
      expect(c?.reason).toBe("AdminAuthenticationFailed");
      return c;
    });
    expect(database?.message).toBe(
      `PostgreSQL at 127.0.0.1:${server.port} rejected the password of admin user "postgres"`,
    );
    const { items } = await client.list<KubeObject & { note?: string }>(T.event, { namespace: ns });
    expect(items.some((e) => e.note?.includes("rejected the password"))).toBe(true);
    expect(JSON.stringify(items)).not.toContain(WRONG_PASSWORD);
    const roles = await sql("SELECT 1 FROM pg_roles WHERE rolname = 'zitadel'");
    expect(roles).toEqual([]);
  });

  it("bootstraps once the password is right, and ZITADEL's role logs in with the password the operator generated", async () => {
    await adminSecret(ADMIN_PASSWORD);
    await eventually(
      async () => {
        const z = await client.get<ZitadelObject>(T.zitadel, ns, "zt");
        expect(z?.status?.conditions?.find((x) => x.type === "DatabaseReady")?.status).toBe("True");
      },
      { timeoutMs: 30_000 },
    );
    const secret = await client.get<KubeObject & { data: Record<string, string> }>(
      T.secret,
      ns,
      "zt-postgres-user",
    );
    const decode = (v: string | undefined) => Buffer.from(v ?? "", "base64").toString();
    const c = new pg.Client({
      host: "127.0.0.1",
      port: server.port,
      user: decode(secret?.data.username),
      password: decode(secret?.data.password),
      database: "zitadel",
      ssl: false,
    });
    await c.connect();
    const [row] = (await c.query("SELECT current_user AS user")).rows as { user: string }[];
    await c.end();
    expect(row?.user).toBe("zitadel");
  });
});

async function sql(text: string): Promise<unknown[]> {
  const c = new pg.Client({
    host: "127.0.0.1",
    port: server.port,
    user: "postgres",
    password: ADMIN_PASSWORD,
    database: "postgres",
    ssl: false,
  });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}
