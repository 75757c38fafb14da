// The Zitadel controller against a PostgreSQL server that checks passwords (scram-sha-256), started here: the
// shared server on 127.0.0.1:5432 trusts every password, so a wrong admin password, and the generated password
// of ZITADEL's own role, can only be proven here.
// The private-server helper repeats the one in postgres-bootstrap.test.ts; it belongs in test/support.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, chown, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCrds } from "../../src/dev/environment.ts";
import { createOperator } from "../../src/operator.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { pidFile } from "../support/processes.ts";

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

interface PrivateServer {
  port: number;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);

async function postgresBinDir(): Promise<string> {
  try {
    const { stdout } = await execFileAsync("pg_config", ["--bindir"]);
    if (existsSync(join(stdout.trim(), "initdb"))) return stdout.trim();
  } catch {
    // no pg_config on PATH: look where Debian puts the server
  }
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? (await readdir(root)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const dir = join(root, version, "bin");
    if (existsSync(join(dir, "initdb"))) return dir;
  }
  throw new Error("initdb not found (pg_config --bindir, /usr/lib/postgresql/*/bin)");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

// initdb and postgres refuse to run as root; as root we run them as the postgres system user.
async function asServerUser(dir: string): Promise<string[]> {
  if (userInfo().uid !== 0) return [];
  const { stdout } = await execFileAsync("id", ["-u", "postgres"]);
  const { stdout: gidOut } = await execFileAsync("id", ["-g", "postgres"]);
  const [uid, gid] = [Number(stdout.trim()), Number(gidOut.trim())];
  await chown(dir, uid, gid);
  return ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"];
}

async function startPrivateServer(adminPassword: string): Promise<PrivateServer> {
  const bin = await postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), "zop-zt-pg-"));
  const prefix = await asServerUser(dir);
  const pwfile = join(dir, "pwfile");
  await writeFile(pwfile, `${adminPassword}\n`, { mode: 0o644 });
  const data = join(dir, "data");
  const run = (argv: string[]) => (prefix.length > 0 ? [...prefix, ...argv] : argv);
  const [initdb, ...initArgs] = run([
    join(bin, "initdb"),
    "-D",
    data,
    "-U",
    "postgres",
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    `--pwfile=${pwfile}`,
    "--no-sync",
  ]);
  await execFileAsync(initdb as string, initArgs);
  const port = await freePort();
  const [postgres, ...args] = run([
    join(bin, "postgres"),
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
    "-c",
    "password_encryption=scram-sha-256",
  ]);
  const child: ChildProcess = spawn(postgres as string, args, { stdio: "ignore" });
  if (child.pid !== undefined) await appendFile(await pidFile("zitadel-admin-password"), `${child.pid}\n`);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const probe = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "postgres",
      password: adminPassword,
      ssl: false,
    });
    try {
      await probe.connect();
      await probe.end();
      break;
    } catch (error) {
      await probe.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`private PostgreSQL did not start: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    port,
    async stop() {
      child.kill("SIGINT"); // fast shutdown
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
