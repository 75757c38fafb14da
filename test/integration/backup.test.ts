// The PostgreSQL backup engine for real: pg_dump and pg_restore against the server on 127.0.0.1:5432 (trust
// authentication, user postgres), objects in an S3-compatible server on loopback (gofakes3, test/support/s3.ts)
// or in a directory, as the backup Jobs will run them.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilesystemStore } from "../../src/backup/fs-store.ts";
import {
  type BackupLocation,
  DUMP_OBJECT,
  MANIFEST_OBJECT,
  objectKey,
  parseManifest,
} from "../../src/backup/manifest.ts";
import type { PostgresConnection } from "../../src/backup/pg-connection.ts";
import { backupPostgres, restorePostgres, verifyBackup } from "../../src/backup/postgres.ts";
import { S3Store } from "../../src/backup/s3-store.ts";
import { readAll } from "../../src/backup/store.ts";
import { type S3Server, startS3Server } from "../support/s3.ts";

const POSTGRES: PostgresConnection = { host: "127.0.0.1", port: 5432, user: "postgres", sslMode: "disable" };
const RUN = `${process.pid}_${randomBytes(3).toString("hex")}`;
const SOURCE_DB = `bk_src_${RUN}`;
const created = new Set<string>();

async function withClient<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...POSTGRES, database, ssl: false });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createTestDatabase(name: string): Promise<void> {
  created.add(name);
  await withClient("postgres", (c) => c.query(`CREATE DATABASE "${name}"`));
}

/** About 10 MB (6 MB dumped) in shapes ZITADEL has: several schemas, jsonb, bytea, timestamps, an empty table, a sequence. */
async function fillSource(database: string): Promise<void> {
  await withClient(database, async (c) => {
    await c.query("CREATE SCHEMA eventstore; CREATE SCHEMA projections");
    await c.query(
      "CREATE TABLE eventstore.events (id bigserial PRIMARY KEY, aggregate text NOT NULL, payload jsonb, " +
        "created timestamptz NOT NULL DEFAULT now(), blob bytea)",
    );
    await c.query(
      "INSERT INTO eventstore.events (aggregate, payload, blob) SELECT 'user-' || (g % 100), " +
        "jsonb_build_object('n', g, 'text', md5(random()::text) || md5(random()::text) || md5(random()::text)), " +
        "decode(md5(random()::text) || md5(random()::text), 'hex') FROM generate_series(1, 60000) AS g",
    );
    await c.query("CREATE TABLE projections.users (id int PRIMARY KEY, name text, score double precision)");
    await c.query(
      "INSERT INTO projections.users SELECT g, 'user ' || g, g / 7.0 FROM generate_series(1, 5000) AS g",
    );
    await c.query("CREATE TABLE public.empty_table (id int)");
  });
}

/** Every table's checksum, computed here independently of the engine's own statistics. */
async function tableChecksums(database: string): Promise<Record<string, string>> {
  return withClient(database, async (c) => {
    await c.query("SET TimeZone = 'UTC'; SET extra_float_digits = 3");
    const tables = await c.query<{ t: string }>(
      "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables " +
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    );
    const sums: Record<string, string> = {};
    for (const { t } of tables.rows) {
      const r = await c.query<{ sum: string }>(
        `SELECT count(*) || ':' || coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') AS sum FROM ${t} x`,
      );
      sums[t] = r.rows[0]?.sum ?? "";
    }
    return sums;
  });
}

async function databaseNames(pattern: string): Promise<string[]> {
  return withClient("postgres", async (c) =>
    (
      await c.query<{ d: string }>("SELECT datname AS d FROM pg_database WHERE datname LIKE $1", [pattern])
    ).rows.map((r) => r.d),
  );
}

/** The owner and the database's privileges as a set (aclitem order carries no meaning). */
async function databaseAccess(database: string): Promise<{ owner: string; acl: string[] }> {
  return withClient(database, async (c) => {
    const r = await c.query<{ owner: string; acl: string[] }>(
      "SELECT pg_get_userbyid(datdba) AS owner, ARRAY(SELECT a::text FROM unnest(datacl) a ORDER BY 1) AS acl " +
        "FROM pg_database WHERE datname = $1",
      [database],
    );
    return r.rows[0] ?? { owner: "", acl: [] };
  });
}

let s3: S3Server;
let store: S3Store;
let workDir: string;

function location(backupName: string): BackupLocation {
  return { namespace: "zitadel", source: "prod", backupName };
}

beforeAll(async () => {
  s3 = await startS3Server();
  store = new S3Store({
    bucket: s3.bucket,
    prefix: "clusters/prod",
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    // Small parts, so a few MB take the multipart path the large dumps take.
    partSize: 5 * 1024 * 1024,
  });
  workDir = await mkdtemp(join(tmpdir(), "backup-test-"));
  await createTestDatabase(SOURCE_DB);
  await fillSource(SOURCE_DB);
});

afterAll(async () => {
  store?.close();
  await s3?.stop();
  await rm(workDir, { recursive: true, force: true });
  await withClient("postgres", async (c) => {
    for (const name of await databaseNames(`%${RUN}%`))
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
});

describe("PostgreSQL backup and restore", () => {
  it("restores every table to its checksum at backup time after data was changed and deleted", async () => {
    const before = await tableChecksums(SOURCE_DB);
    const backup = await backupPostgres({
      connection: POSTGRES,
      database: SOURCE_DB,
      store,
      location: location("restore-1"),
    });
    expect(backup).toMatchObject({ ok: true });
    if (!backup.ok) return;
    expect(backup.manifest.tables.map((t) => `${t.schema}.${t.name}:${t.rows}`)).toEqual([
      "eventstore.events:60000",
      "projections.users:5000",
      "public.empty_table:0",
    ]);
    // Larger than one 5 MiB part: the upload took the multipart path.
    expect(backup.manifest.objects[DUMP_OBJECT]?.size).toBeGreaterThan(5 * 1024 * 1024);

    await withClient(SOURCE_DB, async (c) => {
      await c.query("DELETE FROM eventstore.events WHERE id % 3 = 0");
      await c.query("UPDATE projections.users SET name = 'changed' WHERE id < 100");
      await c.query("INSERT INTO public.empty_table VALUES (1)");
      await c.query("CREATE TABLE public.added_later (id int)");
    });
    expect(await tableChecksums(SOURCE_DB)).not.toEqual(before);
    // Database-level grants are not in a dump: the replacement must carry them over from the original.
    await withClient("postgres", (c) => c.query(`REVOKE TEMPORARY ON DATABASE "${SOURCE_DB}" FROM PUBLIC`));
    const access = await databaseAccess(SOURCE_DB);

    const refused = await restorePostgres({
      connection: POSTGRES,
      store,
      location: location("restore-1"),
      workDir,
    });
    expect(refused).toMatchObject({ ok: false, reason: "TargetExists" });
    expect((await tableChecksums(SOURCE_DB))["public.added_later"]).toBeDefined();

    const restored = await restorePostgres({
      connection: POSTGRES,
      store,
      location: location("restore-1"),
      overwrite: true,
      workDir,
    });
    expect(restored).toMatchObject({ ok: true, database: SOURCE_DB });
    expect(await tableChecksums(SOURCE_DB)).toEqual(before);
    expect(await databaseAccess(SOURCE_DB)).toEqual(access);
    expect(await databaseNames(`${SOURCE_DB}_restore_%`)).toEqual([]);
  });

  it("takes the statistics in the dump's snapshot even while writers keep changing the tables", async () => {
    let writing = true;
    const writer = withClient(SOURCE_DB, async (c) => {
      while (writing)
        await c.query("INSERT INTO projections.users SELECT max(id) + 1, 'new', 0 FROM projections.users");
    });
    const backup = await backupPostgres({
      connection: POSTGRES,
      database: SOURCE_DB,
      store,
      location: location("busy"),
    });
    writing = false;
    await writer;
    expect(backup).toMatchObject({ ok: true });
    const target = `bk_busy_${RUN}`;
    created.add(target);
    const restored = await restorePostgres({
      connection: POSTGRES,
      store,
      location: location("busy"),
      targetDatabase: target,
      workDir,
    });
    // restorePostgres compares every table with the manifest; a statistic from another snapshot would fail here.
    expect(restored).toMatchObject({ ok: true, database: target });
  });

  it("restores into a new database under another name and keeps the source untouched", async () => {
    const target = `bk_copy_${RUN}`;
    created.add(target);
    const restored = await restorePostgres({
      connection: POSTGRES,
      store,
      location: location("restore-1"),
      targetDatabase: target,
      workDir,
    });
    expect(restored).toMatchObject({ ok: true, database: target });
    const copy = await tableChecksums(target);
    expect(Object.keys(copy)).toEqual(["eventstore.events", "projections.users", "public.empty_table"]);
  });

  it("verifies a good backup in a scratch database and drops the scratch database", async () => {
    const result = await verifyBackup({
      connection: POSTGRES,
      store,
      location: location("restore-1"),
      workDir,
    });
    expect(result).toMatchObject({ result: "Passed", differences: [] });
    expect(await databaseNames(`${SOURCE_DB}_verify_%`)).toEqual([]);
  });

  it("catches a corrupted dump by its sha256, in verify and before a restore changes anything", async () => {
    await copyBackup("restore-1", "corrupt");
    const key = objectKey(location("corrupt"), DUMP_OBJECT);
    const dump = await readAll(await store.get(key));
    const middle = dump.length >> 1;
    dump.writeUInt8(dump.readUInt8(middle) ^ 0xff, middle);
    await store.put(key, dump);

    const verified = await verifyBackup({
      connection: POSTGRES,
      store,
      location: location("corrupt"),
      workDir,
    });
    expect(verified).toMatchObject({ result: "Failed", reason: "BackupCorrupt" });
    expect(verified.message).toMatch(/corrupt.*sha256/);

    const before = await tableChecksums(SOURCE_DB);
    const restored = await restorePostgres({
      connection: POSTGRES,
      store,
      location: location("corrupt"),
      overwrite: true,
      workDir,
    });
    expect(restored).toMatchObject({ ok: false, reason: "BackupCorrupt" });
    expect(await tableChecksums(SOURCE_DB)).toEqual(before);
  });

  it("catches a dump whose data does not match the snapshot the manifest describes", async () => {
    // A well-formed dump with a consistent sha256, but of other data: what a buggy or tampered dump looks like.
    await withClient(SOURCE_DB, (c) => c.query("DELETE FROM projections.users WHERE id > 4000"));
    const other = await backupPostgres({
      connection: POSTGRES,
      database: SOURCE_DB,
      store,
      location: location("other"),
    });
    expect(other.ok).toBe(true);
    if (!other.ok) return;
    await copyBackup("restore-1", "swapped");
    const manifestKey = objectKey(location("swapped"), MANIFEST_OBJECT);
    const manifest = parseManifest((await readAll(await store.get(manifestKey))).toString());
    if (!manifest.ok) throw new Error(manifest.message);
    const otherDump = other.manifest.objects[DUMP_OBJECT];
    if (otherDump === undefined) throw new Error("no dump");
    await store.put(
      objectKey(location("swapped"), DUMP_OBJECT),
      await readAll(await store.get(objectKey(location("other"), DUMP_OBJECT))),
    );
    await store.put(
      manifestKey,
      JSON.stringify({
        ...manifest.manifest,
        objects: { ...manifest.manifest.objects, [DUMP_OBJECT]: otherDump },
      }),
    );

    const verified = await verifyBackup({
      connection: POSTGRES,
      store,
      location: location("swapped"),
      workDir,
    });
    expect(verified).toMatchObject({ result: "Failed", reason: "DataDiffers" });
    expect(verified.differences).toEqual([
      expect.objectContaining({ table: "projections.users", problem: "rows" }),
    ]);
    expect(await databaseNames(`${SOURCE_DB}_verify_%`)).toEqual([]);
  });

  it("backs up to and restores from a directory (destination.pvc)", async () => {
    const fsStore = new FilesystemStore(join(workDir, "pvc"));
    const backup = await backupPostgres({
      connection: POSTGRES,
      database: SOURCE_DB,
      store: fsStore,
      location: location("pvc-1"),
    });
    expect(backup.ok).toBe(true);
    const target = `bk_pvc_${RUN}`;
    created.add(target);
    const restored = await restorePostgres({
      connection: POSTGRES,
      store: fsStore,
      location: location("pvc-1"),
      targetDatabase: target,
      workDir,
    });
    expect(restored.ok).toBe(true);
    expect(await tableChecksums(target)).toEqual(await tableChecksums(SOURCE_DB));
  });

  it("fails without leaving objects behind when pg_dump fails", async () => {
    const backup = await backupPostgres({
      connection: POSTGRES,
      database: `bk_missing_${RUN}`,
      store,
      location: location("failed"),
    });
    expect(backup).toMatchObject({ ok: false });
    expect(await store.list(`zitadel/prod/failed/`)).toEqual([]);
  });
});

async function copyBackup(from: string, to: string): Promise<void> {
  for (const object of await store.list(objectKey(location(from), ""))) {
    const name = object.key.slice(objectKey(location(from), "").length);
    await store.put(objectKey(location(to), name), await readAll(await store.get(object.key)));
  }
}
