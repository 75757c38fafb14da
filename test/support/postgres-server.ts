// A PostgreSQL server of a test's own, with scram-sha-256 password authentication on 127.0.0.1 (the machine's
// shared server trusts every password, so wrong-password cases need this one). Its pid is recorded so the test
// run's teardown kills it if a worker dies.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, chown, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { pidFile } from "./processes.ts";

export interface PrivateServer {
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

export async function freePort(): Promise<number> {
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
  const uid = Number(stdout.trim());
  const { stdout: gidOut } = await execFileAsync("id", ["-g", "postgres"]);
  const gid = Number(gidOut.trim());
  await chown(dir, uid, gid);
  return ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"];
}

export async function startPrivateServer(adminPassword: string): Promise<PrivateServer> {
  const bin = await postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), "zop-pg-"));
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
  if (child.pid !== undefined) await appendFile(await pidFile("private-postgres"), `${child.pid}\n`);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const probe = new pg.Client({
        host: "127.0.0.1",
        port,
        user: "postgres",
        password: adminPassword,
        database: "postgres",
      });
      await probe.connect();
      await probe.end();
      break;
    } catch (error) {
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

/** Runs one statement as postgres on the machine's own PostgreSQL (127.0.0.1:5432, trust auth); returns its rows. */
export async function localSql(text: string, database = "postgres"): Promise<unknown[]> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database, ssl: false });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}
