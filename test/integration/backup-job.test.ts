// `zitadel-operator job backup|verify|restore` as the Jobs will run it: a separate process, parameters as flags,
// credentials only in its environment. Everything it prints is captured and searched for the credentials.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Store } from "../../src/backup/s3-store.ts";
import { readAll } from "../../src/backup/store.ts";
import { repoRoot } from "../../src/controlplane/binaries.ts";
import { type S3Server, startS3Server } from "../support/s3.ts";

const RUN = `${process.pid}_${randomBytes(3).toString("hex")}`;
const DATABASE = `bk_job_${RUN}`;
const RESTORED = `bk_job_restored_${RUN}`;
const PG_PASSWORD = `pg-Secret-${randomBytes(8).toString("hex")}`;
const MASTERKEY = randomBytes(16).toString("hex"); // 32 characters, like ZITADEL's
const OTHER_MASTERKEY = randomBytes(16).toString("hex");

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
  args: string[];
}

const captured: Captured[] = [];
let s3: S3Server;
let identity: string;
let recipient: string;
let workDir: string;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

function job(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  const full = [
    join(repoRoot, "bin", "zitadel-operator.js"),
    "job",
    ...args,
    ...["--namespace", "zitadel", "--source", "prod", "--backup-name", "nightly-1"],
    ...["--pg-host", "127.0.0.1", "--pg-user", "postgres", "--pg-sslmode", "disable"],
    ...[
      "--s3-bucket",
      s3.bucket,
      "--s3-endpoint",
      s3.endpoint,
      "--s3-force-path-style",
      "--s3-prefix",
      "prod",
    ],
    ...["--termination-log", join(workDir, "termination-log"), "--work-dir", workDir],
  ];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      full,
      {
        env: {
          PATH: process.env.PATH,
          PGPASSWORD: PG_PASSWORD,
          AWS_ACCESS_KEY_ID: s3.accessKey,
          AWS_SECRET_ACCESS_KEY: s3.secretKey,
          ...env,
        },
      },
      (err, stdout, stderr) => {
        const result = {
          code: err ? Number((err as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          args: full,
        };
        captured.push(result);
        resolve(result);
      },
    );
  });
}

function resultLine(run: Captured): Record<string, unknown> {
  return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
}

beforeAll(async () => {
  s3 = await startS3Server();
  identity = await generateX25519Identity();
  recipient = await identityToRecipient(identity);
  workDir = await mkdtemp(join(tmpdir(), "backup-job-"));
  await admin(`CREATE DATABASE "${DATABASE}"`);
  const client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: DATABASE });
  await client.connect();
  await client
    .query("CREATE TABLE secrets_table AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g")
    .finally(() => client.end());
});

afterAll(async () => {
  await s3?.stop();
  await rm(workDir, { recursive: true, force: true });
  for (const name of [DATABASE, RESTORED]) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
});

describe("zitadel-operator job", () => {
  it("refuses to take a backup without the masterkey", async () => {
    const run = await job(["backup", "--database", DATABASE, "--age-recipient", recipient]);
    expect(run.code).toBe(1);
    expect(resultLine(run)).toMatchObject({ ok: false, command: "backup", reason: "NoMasterkey" });
  });

  it("backs up with the masterkey encrypted to the recipient, and verifies the backup", async () => {
    const backup = await job(["backup", "--database", DATABASE, "--age-recipient", recipient], {
      ZITADEL_MASTERKEY: MASTERKEY,
    });
    expect(resultLine(backup)).toMatchObject({ ok: true, command: "backup", tables: 1 });
    expect(backup.code).toBe(0);
    expect(await readFile(join(workDir, "termination-log"), "utf8")).toBe(backup.stdout.trim());
    expect(String(resultLine(backup).location)).toBe(`s3://${s3.bucket}/prod/zitadel/prod/nightly-1/`);

    const verify = await job(["verify"]);
    expect(resultLine(verify)).toMatchObject({
      ok: true,
      command: "verify",
      verification: { result: "Passed" },
    });
  });

  it("restores only when the masterkey is the current one or can be recovered with the age identity", async () => {
    const mismatch = await job(["restore", "--target-database", RESTORED], {
      ZITADEL_MASTERKEY: OTHER_MASTERKEY,
    });
    expect(resultLine(mismatch)).toMatchObject({ ok: false, reason: "MasterkeyMismatch" });

    const out = join(workDir, "masterkey");
    const recovered = await job(["restore", "--target-database", RESTORED, "--masterkey-out", out], {
      ZITADEL_MASTERKEY: OTHER_MASTERKEY,
      AGE_IDENTITY: identity,
    });
    expect(resultLine(recovered)).toMatchObject({ ok: true, database: RESTORED, masterkey: "written" });
    expect(await readFile(out, "utf8")).toBe(MASTERKEY);

    const again = await job(["restore", "--target-database", RESTORED], { ZITADEL_MASTERKEY: MASTERKEY });
    expect(resultLine(again)).toMatchObject({ ok: false, reason: "TargetExists" });
  });

  it("never shows a credential: not in arguments, output, termination messages or stored objects", async () => {
    const secrets = [PG_PASSWORD, s3.secretKey, MASTERKEY, identity];
    const store = new S3Store({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    });
    const objects = await store.list("");
    expect(objects.map((o) => o.key.split("/").at(-1)).sort()).toEqual([
      "dump",
      "manifest.json",
      "masterkey.age",
    ]);
    const stored = await Promise.all(
      objects.map(async (o) => (await readAll(await store.get(o.key))).toString("latin1")),
    );
    store.close();
    expect(captured.length).toBeGreaterThanOrEqual(6);
    for (const text of [...captured.flatMap((c) => [c.stdout, c.stderr, c.args.join(" ")]), ...stored]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});
