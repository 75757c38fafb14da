// Backup, restore and verify of a PostgreSQL database of a few MB through the S3 server on loopback: wall time and
// throughput of the dump as stored (custom format, compressed). Needs PostgreSQL on 127.0.0.1:5432 and Go.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { storeForDestination } from "../src/backup/destination-store.ts";
import { backupPostgres, restorePostgres, verifyBackup } from "../src/backup/postgres.ts";
import { S3Store } from "../src/backup/s3-store.ts";
import { startGcsServer } from "../test/support/gcs.ts";
import { startS3Server } from "../test/support/s3.ts";
import type { Figure } from "./run.ts";

const POSTGRES = { host: "127.0.0.1", port: 5432, user: "postgres", sslMode: "disable" as const };
const ROWS = 100_000;

async function sql(database: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ ...POSTGRES, database, ssl: false });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, (performance.now() - started) / 1000];
}

export async function run(): Promise<Figure[]> {
  const id = randomBytes(3).toString("hex");
  const source = `bench_src_${id}`;
  const target = `bench_dst_${id}`;
  const s3 = await startS3Server();
  const store = new S3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
  const workDir = await mkdtemp(join(tmpdir(), "backup-bench-"));
  const location = { namespace: "bench", source: "pg", backupName: `b-${id}` };
  try {
    await sql("postgres", `CREATE DATABASE "${source}"`);
    await sql(
      source,
      "CREATE TABLE events AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS payload, " +
        `now() AS created FROM generate_series(1, ${ROWS}) g`,
    );
    const size = Number(
      (await sql(source, "SELECT pg_database_size(current_database()) AS s")).rows[0]?.s ?? 0,
    );
    const [backup, backupSeconds] = await timed(() =>
      backupPostgres({ connection: POSTGRES, database: source, store, location }),
    );
    if (!backup.ok) throw new Error(backup.message);
    const dumpBytes = backup.manifest.objects.dump?.size ?? 0;
    const [restored, restoreSeconds] = await timed(() =>
      restorePostgres({ connection: POSTGRES, store, location, targetDatabase: target, workDir }),
    );
    if (!restored.ok) throw new Error(restored.message);
    const [verified, verifySeconds] = await timed(() =>
      verifyBackup({ connection: POSTGRES, store, location, workDir }),
    );
    if (verified.result !== "Passed") throw new Error(verified.message);

    // The same backup and restore through the GCS store (fake-gcs-server on loopback, signed service-account tokens).
    const gcs = await startGcsServer();
    const gcsStore = storeForDestination(
      { gcs: { bucket: gcs.bucket, endpoint: gcs.endpoint } },
      { gcsCredentialsJson: gcs.credentialsJson },
    );
    let gcsBackupSeconds: number;
    let gcsRestoreSeconds: number;
    try {
      const [gcsBackup, b] = await timed(() =>
        backupPostgres({ connection: POSTGRES, database: source, store: gcsStore, location }),
      );
      if (!gcsBackup.ok) throw new Error(gcsBackup.message);
      await sql("postgres", `DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`);
      const [gcsRestored, r] = await timed(() =>
        restorePostgres({ connection: POSTGRES, store: gcsStore, location, targetDatabase: target, workDir }),
      );
      if (!gcsRestored.ok) throw new Error(gcsRestored.message);
      [gcsBackupSeconds, gcsRestoreSeconds] = [b, r];
    } finally {
      gcsStore.close();
      await gcs.stop();
    }
    const mb = (bytes: number) => bytes / 1024 / 1024;
    return [
      { name: "database size", value: mb(size), unit: "MiB" },
      { name: "dump size (stored)", value: mb(dumpBytes), unit: "MiB" },
      { name: "backup time", value: backupSeconds, unit: "s" },
      { name: "backup throughput (database size)", value: mb(size) / backupSeconds, unit: "MiB/s" },
      { name: "restore time (download, check, pg_restore, compare)", value: restoreSeconds, unit: "s" },
      { name: "restore throughput (database size)", value: mb(size) / restoreSeconds, unit: "MiB/s" },
      { name: "verify time", value: verifySeconds, unit: "s" },
      { name: "backup time, GCS store", value: gcsBackupSeconds, unit: "s" },
      { name: "restore time, GCS store", value: gcsRestoreSeconds, unit: "s" },
    ];
  } finally {
    store.close();
    await s3.stop();
    await rm(workDir, { recursive: true, force: true });
    for (const name of [source, target])
      await sql("postgres", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}
