// `zitadel-operator job backup|verify|restore` with a GCS destination, as the Jobs run it: a separate process against
// the real PostgreSQL on 127.0.0.1:5432 and a real GCS-compatible server on loopback (test/support/gcs.ts) that
// accepts only the test's service account. Backup, change the data, restore over it, and the data is what it was.
// Everything the processes print is searched for the service account key. Also the operator's side: deleting a
// Backup's files from GCS with the key read from its Secret (deletionPolicy Delete).
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackupSchema } from "../../src/api/backup.ts";
import { GcsStore } from "../../src/backup/gcs-store.ts";
import { readAll } from "../../src/backup/store.ts";
import { deleteBackupFiles } from "../../src/controllers/backup/files.ts";
import { repoRoot } from "../../src/controlplane/binaries.ts";
import { KubeClient } from "../../src/runtime/kube.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { type GcsServer, serviceAccountKey, startGcsServer } from "../support/gcs.ts";

const RUN = `${process.pid}_${randomBytes(3).toString("hex")}`;
const DATABASE = `bk_gcs_${RUN}`;
const MASTERKEY = randomBytes(16).toString("hex"); // 32 characters, like ZITADEL's

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
  args: string[];
  terminationLog: string;
}

const captured: Captured[] = [];
let gcs: GcsServer;
let identity: string;
let recipient: string;
let workDir: string;

async function sql<Row extends Record<string, unknown>>(database: string, text: string): Promise<Row[]> {
  const client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Every row of the test's tables, in a stable order: what "the data is equal" compares. */
async function snapshot(): Promise<unknown> {
  return {
    accounts: await sql(DATABASE, "SELECT id, name, balance::text FROM accounts ORDER BY id"),
    events: await sql(DATABASE, "SELECT id, payload FROM events ORDER BY id"),
  };
}

function job(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  const terminationLog = join(workDir, `termination-log-${captured.length}`);
  const full = [
    join(repoRoot, "bin", "zitadel-operator.js"),
    "job",
    ...args,
    ...["--namespace", "zitadel", "--source", "prod", "--backup-name", "nightly-gcs"],
    ...["--pg-host", "127.0.0.1", "--pg-user", "postgres", "--pg-sslmode", "disable"],
    ...["--gcs-bucket", gcs.bucket, "--gcs-endpoint", gcs.endpoint, "--gcs-prefix", "zitadel/prod"],
    ...["--termination-log", terminationLog, "--work-dir", workDir],
  ];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      full,
      { env: { PATH: process.env.PATH, GCS_CREDENTIALS_JSON: gcs.credentialsJson, ...env } },
      async (err, stdout, stderr) => {
        const result = {
          code: err ? Number((err as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
          args: full,
          terminationLog: await readFile(terminationLog, "utf8").catch(() => ""),
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

function storeOf(prefix = "zitadel/prod"): GcsStore {
  return new GcsStore({
    bucket: gcs.bucket,
    prefix,
    endpoint: gcs.endpoint,
    credentialsJson: gcs.credentialsJson,
  });
}

beforeAll(async () => {
  gcs = await startGcsServer("zitadel-backups");
  identity = await generateX25519Identity();
  recipient = await identityToRecipient(identity);
  workDir = await mkdtemp(join(tmpdir(), "gcs-backup-job-"));
  await sql("postgres", `CREATE DATABASE "${DATABASE}"`);
  await sql(
    DATABASE,
    `CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, balance numeric(12,2) NOT NULL);
     INSERT INTO accounts SELECT g, 'account ' || g, g * 1.5 FROM generate_series(1, 2000) g;
     CREATE TABLE events (id bigserial PRIMARY KEY, payload jsonb NOT NULL);
     INSERT INTO events (payload) SELECT jsonb_build_object('n', g, 'md5', md5(g::text)) FROM generate_series(1, 500) g;`,
  );
});

afterAll(async () => {
  await gcs?.stop();
  await rm(workDir, { recursive: true, force: true });
  await sql("postgres", `DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
});

describe("zitadel-operator job with --gcs-bucket", () => {
  it("backs up, verifies, and restores changed data back to what was backed up", async () => {
    const before = await snapshot();

    const backup = await job(["backup", "--database", DATABASE, "--age-recipient", recipient], {
      ZITADEL_MASTERKEY: MASTERKEY,
    });
    expect(resultLine(backup)).toMatchObject({ ok: true, command: "backup", tables: 2 });
    expect(backup.code).toBe(0);
    expect(String(resultLine(backup).location)).toBe(
      `gs://${gcs.bucket}/zitadel/prod/zitadel/prod/nightly-gcs/`,
    );
    expect(backup.terminationLog).toBe(backup.stdout.trim());
    expect((await storeOf().list("")).map((o) => o.key)).toEqual([
      "zitadel/prod/nightly-gcs/dump",
      "zitadel/prod/nightly-gcs/manifest.json",
      "zitadel/prod/nightly-gcs/masterkey.age",
    ]);

    const verify = await job(["verify"]);
    expect(resultLine(verify)).toMatchObject({
      ok: true,
      command: "verify",
      verification: { result: "Passed" },
    });

    // Change every kind of thing: update, delete, insert, and a new table.
    await sql(
      DATABASE,
      `UPDATE accounts SET balance = balance + 100 WHERE id % 3 = 0;
       DELETE FROM events WHERE id > 250;
       INSERT INTO accounts VALUES (5000, 'intruder', 0);
       CREATE TABLE scratch (x int);`,
    );
    expect(await snapshot()).not.toEqual(before);

    const refused = await job(["restore"], { ZITADEL_MASTERKEY: MASTERKEY });
    expect(resultLine(refused)).toMatchObject({ ok: false, reason: "TargetExists" });

    const restore = await job(["restore", "--overwrite"], { ZITADEL_MASTERKEY: MASTERKEY });
    expect(resultLine(restore)).toMatchObject({
      ok: true,
      database: DATABASE,
      tables: 2,
      masterkey: "matches",
    });
    expect(restore.code).toBe(0);
    expect(await snapshot()).toEqual(before);
    expect(await sql(DATABASE, "SELECT to_regclass('scratch') IS NULL AS gone")).toEqual([{ gone: true }]);
  });

  it("fails with a clear message when the key is not a service account key, without printing it", async () => {
    const broken = `not-a-key-${randomBytes(12).toString("hex")}`;
    const run = await job(["verify"], { GCS_CREDENTIALS_JSON: broken });
    expect(run.code).toBe(1);
    expect(resultLine(run)).toMatchObject({ ok: false, message: expect.stringContaining("not JSON") });
    for (const text of [run.stdout, run.stderr, run.terminationLog, run.args.join(" ")])
      expect(text).not.toContain(broken);
  });

  it("is refused by the server with another service account's key", async () => {
    const other = serviceAccountKey();
    const run = await job(["verify"], { GCS_CREDENTIALS_JSON: other.json });
    expect(run.code).toBe(1);
    expect(resultLine(run)).toMatchObject({ ok: false });
    expect(String(resultLine(run).message)).toMatch(/not signed by the service account's key/);
    for (const text of [run.stdout, run.stderr, run.terminationLog])
      expect(text).not.toContain(other.privateKey);
  });

  it("never shows the key: not in arguments, output, termination messages or stored objects", async () => {
    const key = JSON.parse(gcs.credentialsJson) as { private_key: string; private_key_id: string };
    // The PEM body without its line breaks, as it would look if it leaked through JSON escaping.
    const pemBody = key.private_key.replace(/-----[A-Z ]+-----|\n/g, "");
    const secrets = [
      gcs.credentialsJson,
      JSON.stringify(gcs.credentialsJson),
      pemBody.slice(0, 64),
      key.private_key_id,
      MASTERKEY,
      identity,
    ];
    const store = storeOf();
    const objects = await store.list("");
    const stored = await Promise.all(
      objects.map(async (o) => (await readAll(await store.get(o.key))).toString("latin1")),
    );
    expect(captured.length).toBeGreaterThanOrEqual(6);
    for (const text of [
      ...captured.flatMap((c) => [c.stdout, c.stderr, c.terminationLog, c.args.join(" ")]),
      ...stored,
    ]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});

describe("deleting a Backup's files from GCS (deletionPolicy Delete)", () => {
  it("reads the key from the Secret and deletes that Backup's directory only", async () => {
    const kc = sharedKubeConfig();
    const client = new KubeClient(kc);
    const ns = await testNamespace(kc, "gcs-files");
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "gcs-key", namespace: ns },
      stringData: { "credentials.json": gcs.credentialsJson },
    });
    const store = storeOf("files");
    await store.put(`${ns}/zt/files-go/dump`, "dump");
    await store.put(`${ns}/zt/files-go/manifest.json`, "{}");
    await store.put(`${ns}/zt/files-stay/manifest.json`, "{}");
    const backup = (name: string, secret: string) =>
      BackupSchema.parse({
        apiVersion: "zitadel-operator.dev/v1alpha1",
        kind: "Backup",
        metadata: { name, namespace: ns },
        spec: {
          source: { zitadelRef: { name: "zt" } },
          masterkeyRecipients: [recipient],
          destination: {
            gcs: {
              bucket: gcs.bucket,
              prefix: "files",
              endpoint: gcs.endpoint,
              credentialsSecretRef: { name: secret },
            },
          },
          deletionPolicy: "Delete",
        },
      });

    const missing = await deleteBackupFiles(client, backup("files-go", "no-such-secret"), ns);
    expect(missing).toMatchObject({ failed: { reason: "SecretNotFound" } });

    const outcome = await deleteBackupFiles(client, backup("files-go", "gcs-key"), ns);
    expect(outcome).toEqual({ deleted: 2, where: `gs://${gcs.bucket}/files/${ns}/zt/files-go/` });
    expect((await store.list(`${ns}/zt/`)).map((o) => o.key)).toEqual([`${ns}/zt/files-stay/manifest.json`]);
    expect(JSON.stringify(outcome)).not.toContain(JSON.parse(gcs.credentialsJson).private_key_id);
  });
});
