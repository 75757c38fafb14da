// The PostgreSQL engine: backup (pg_dump custom format, streamed to the store), restore (pg_restore), and the
// verification that restores a backup into a scratch database and compares it with what was backed up.
//
// Consistency: the table statistics in the manifest must describe exactly the data in the dump. So the backup
// opens a REPEATABLE READ transaction, exports its snapshot (pg_export_snapshot), runs `pg_dump --snapshot` on
// it, and computes the statistics in that same transaction while pg_dump runs; the transaction stays open
// until pg_dump is done. https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-SNAPSHOT-SYNCHRONIZATION
//
// Failures are values ({ ok: false, reason, message }) with messages free of the password.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import {
  type BackupLocation,
  backupDirectory,
  compareTableStats,
  DUMP_OBJECT,
  describeDifferences,
  MANIFEST_OBJECT,
  MASTERKEY_OBJECT,
  type Manifest,
  objectKey,
  parseManifest,
  type StoredObject,
  serializeManifest,
  type TableDifference,
  type TableStats,
} from "./manifest.ts";
import { checkMasterkeyInputs, storeMasterkey } from "./masterkey.ts";
import { connect, libpqEnvironment, type PostgresConnection, scrubPassword } from "./pg-connection.ts";
import {
  copyDatabaseAccess,
  createDatabase,
  databaseExists,
  dropDatabase,
  renameDatabase,
  scratchDatabaseName,
} from "./pg-database.ts";
import { deletePrefix, IntegrityError, type ObjectStore, readAll, readVerified } from "./store.ts";
import {
  SESSION_SETTINGS,
  TABLE_LIST_QUERY,
  tableStatsQuery,
  USER_RELATION_COUNT_QUERY,
} from "./table-stats.ts";
import { runTool, startTool } from "./tool.ts";

export type Failure = { readonly ok: false; readonly reason: string; readonly message: string };

/** Where the maintenance connection goes for CREATE/DROP DATABASE. */
const MAINTENANCE_DATABASE = "postgres";

export interface BackupPostgresParams {
  readonly connection: PostgresConnection;
  readonly database: string;
  readonly store: ObjectStore;
  readonly location: BackupLocation;
  /** ZITADEL's masterkey and the age recipients its encrypted copy is for; see README.md. */
  readonly masterkey?: { readonly value: string; readonly recipients: readonly string[] };
  readonly now?: () => Date;
}

export type BackupPostgresResult = { readonly ok: true; readonly manifest: Manifest } | Failure;

export async function backupPostgres(params: BackupPostgresParams): Promise<BackupPostgresResult> {
  const { connection, database, store, location } = params;
  const now = params.now ?? (() => new Date());
  if (params.masterkey !== undefined) {
    const checked = checkMasterkeyInputs(params.masterkey.value, params.masterkey.recipients);
    if (!checked.ok) return checked;
  }
  const startedAt = now().toISOString();
  const directory = backupDirectory(location);
  if ((await store.list(directory)).length > 0)
    return fail(
      "BackupExists",
      `${store.description}${directory} already holds a backup; names are never reused`,
    );

  let step = `connect to database "${database}"`;
  let client: pg.Client | undefined;
  try {
    client = await connect(connection, database);
    step = "open a snapshot";
    for (const setting of SESSION_SETTINGS) await client.query(setting);
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const opened = await client.query<{ snapshot: string; version: string }>(
      "SELECT pg_catalog.pg_export_snapshot() AS snapshot, pg_catalog.current_setting('server_version') AS version",
    );
    const { snapshot, version } = opened.rows[0] ?? { snapshot: "", version: "" };

    step = "dump the database";
    const dump = startTool(
      "pg_dump",
      ["--format=custom", `--snapshot=${snapshot}`, "--no-password"],
      libpqEnvironment(connection, database),
    );
    const upload = store.put(objectKey(location, DUMP_OBJECT), dump.stdout);
    // pg_dump writes as fast as the store takes it; the statistics run on the snapshot meanwhile.
    const stats = tableStats(client);
    let dumped: StoredObject;
    let tables: TableStats[];
    try {
      [dumped, tables] = await Promise.all([upload, stats]);
    } catch (err) {
      dump.kill();
      throw err;
    }
    const exit = await dump.finished;
    if (exit.code !== 0) {
      await deletePrefix(store, directory);
      return fail(
        "PgDumpFailed",
        `pg_dump failed (${exitText(exit)}): ${scrubPassword(connection, exit.stderr)}`,
      );
    }
    await client.query("COMMIT");

    const objects: Record<string, StoredObject> = { [DUMP_OBJECT]: pick(dumped) };
    let masterkey: Manifest["masterkey"];
    if (params.masterkey !== undefined) {
      step = "store the encrypted masterkey";
      const stored = await storeMasterkey(store, location, params.masterkey);
      objects[MASTERKEY_OBJECT] = stored.object;
      masterkey = stored.entry;
    }

    step = "write the manifest";
    const manifest: Manifest = {
      formatVersion: 1,
      engine: "PostgreSQL",
      namespace: location.namespace,
      source: location.source,
      backupName: location.backupName,
      database,
      serverVersion: version,
      startedAt,
      completedAt: now().toISOString(),
      objects,
      tables,
      ...(masterkey === undefined ? {} : { masterkey }),
    };
    // Last: a directory with a manifest is a complete backup.
    await store.put(objectKey(location, MANIFEST_OBJECT), serializeManifest(manifest));
    return { ok: true, manifest };
  } catch (err) {
    await deletePrefix(store, directory).catch(() => {});
    return fail("BackupFailed", `could not ${step}: ${scrubPassword(connection, errorText(err))}`);
  } finally {
    await client?.end().catch(() => {});
  }
}

export interface RestorePostgresParams {
  readonly connection: PostgresConnection;
  readonly store: ObjectStore;
  readonly location: BackupLocation;
  /** Database to restore into; the backed-up database's name when unset. */
  readonly targetDatabase?: string;
  /** Replace a database that holds data. Without it such a target is refused with reason TargetExists. */
  readonly overwrite?: boolean;
  /** Where the dump is downloaded to and checked before anything is changed; the system's temp dir by default. */
  readonly workDir?: string;
}

export type RestorePostgresResult =
  | {
      readonly ok: true;
      readonly database: string;
      readonly manifest: Manifest;
      readonly tables: TableStats[];
    }
  | Failure;

/**
 * Restores a backup. The dump is downloaded and checked against its sha256 first, so a corrupt backup changes
 * nothing. A missing or empty target is restored into directly, in one transaction. A target with data (with
 * overwrite) is replaced only after a complete copy restored next to it matches the manifest: a failure at any
 * point leaves the original as it was.
 */
export async function restorePostgres(params: RestorePostgresParams): Promise<RestorePostgresResult> {
  const { connection, store, location } = params;
  const manifest = await readManifest(store, location);
  if (!manifest.ok) return manifest;
  const target = params.targetDatabase ?? manifest.manifest.database;

  return withDownloadedDump(store, location, manifest.manifest, params.workDir, async (dumpFile) => {
    const admin = await connect(connection, MAINTENANCE_DATABASE);
    try {
      const exists = await databaseExists(admin, target);
      const hasData = exists && (await userRelationCount(connection, target)) > 0;
      if (hasData && params.overwrite !== true)
        return fail(
          "TargetExists",
          `database "${target}" already holds data; set overwrite to replace it with the backup`,
        );
      const into = hasData ? scratchDatabaseName(target, "restore") : target;
      if (!exists || hasData) await createDatabase(admin, into);
      const restored = await restoreAndCompare(connection, dumpFile, into, manifest.manifest, {
        keepOwners: true,
      });
      if (!restored.ok) {
        if (into !== target || !exists) await dropDatabase(admin, into);
        return restored;
      }
      if (into !== target) {
        await copyDatabaseAccess(admin, target, into);
        await dropDatabase(admin, target);
        await renameDatabase(admin, into, target);
      }
      return { ok: true, database: target, manifest: manifest.manifest, tables: restored.tables };
    } finally {
      await admin.end().catch(() => {});
    }
  }).catch((err: unknown) => fail("RestoreFailed", scrubPassword(connection, errorText(err))));
}

export interface VerifyBackupParams {
  readonly connection: PostgresConnection;
  readonly store: ObjectStore;
  readonly location: BackupLocation;
  readonly workDir?: string;
  readonly now?: () => Date;
}

export interface VerificationResult {
  readonly result: "Passed" | "Failed";
  readonly checkedAt: string;
  readonly message: string;
  readonly reason?: string;
  readonly differences: TableDifference[];
}

/**
 * Restores the backup into a scratch database `<db>_verify_<random>`, compares every table's row count and
 * checksum with the manifest, and drops the scratch database again, also when anything fails. A corrupt object
 * (sha256 mismatch), a dump pg_restore cannot read and data that differs all make the result Failed.
 */
export async function verifyBackup(params: VerifyBackupParams): Promise<VerificationResult> {
  const { connection, store, location } = params;
  const checkedAt = () => (params.now ?? (() => new Date()))().toISOString();
  const failed = (
    reason: string,
    message: string,
    differences: TableDifference[] = [],
  ): VerificationResult => ({
    result: "Failed",
    checkedAt: checkedAt(),
    reason,
    message: scrubPassword(connection, message),
    differences,
  });
  const manifest = await readManifest(store, location);
  if (!manifest.ok) return failed(manifest.reason, manifest.message);

  const masterkeyEntry = manifest.manifest.objects[MASTERKEY_OBJECT];
  if (masterkeyEntry !== undefined) {
    try {
      await readAll(await readVerified(store, objectKey(location, MASTERKEY_OBJECT), masterkeyEntry));
    } catch (err) {
      return failed(err instanceof IntegrityError ? "BackupCorrupt" : "BackupUnreadable", errorText(err));
    }
  }

  try {
    const outcome = await withDownloadedDump(
      store,
      location,
      manifest.manifest,
      params.workDir,
      async (dumpFile) => {
        const scratch = scratchDatabaseName(manifest.manifest.database, "verify");
        const admin = await connect(connection, MAINTENANCE_DATABASE);
        try {
          await createDatabase(admin, scratch);
          const restored = await restoreAndCompare(connection, dumpFile, scratch, manifest.manifest, {
            keepOwners: false,
          });
          if (!restored.ok) return failed(restored.reason, restored.message, restored.differences ?? []);
          const passed: VerificationResult = {
            result: "Passed",
            checkedAt: checkedAt(),
            message: `restored into a scratch database: ${restored.tables.length} tables match the backup's snapshot`,
            differences: [],
          };
          return passed;
        } finally {
          await dropDatabase(admin, scratch).catch(() => {});
          await admin.end().catch(() => {});
        }
      },
    );
    // A Failure here means the dump could not be downloaded intact.
    return "ok" in outcome ? failed(outcome.reason, outcome.message) : outcome;
  } catch (err) {
    return failed("VerificationFailed", errorText(err));
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The manifest of a complete backup, or why there is none. */
export async function readManifest(
  store: ObjectStore,
  location: BackupLocation,
): Promise<{ ok: true; manifest: Manifest } | Failure> {
  const key = objectKey(location, MANIFEST_OBJECT);
  let text: string;
  try {
    text = (await readAll(await store.get(key))).toString("utf8");
  } catch (err) {
    return fail("BackupNotFound", `no complete backup at ${store.description}${key}: ${errorText(err)}`);
  }
  const parsed = parseManifest(text);
  return parsed.ok ? parsed : fail("InvalidManifest", parsed.message);
}

/** Downloads the dump to a private temporary file, checked against the manifest, and removes it afterwards. */
async function withDownloadedDump<T>(
  store: ObjectStore,
  location: BackupLocation,
  manifest: Manifest,
  workDir: string | undefined,
  use: (dumpFile: string) => Promise<T | Failure>,
): Promise<T | Failure> {
  const expected = manifest.objects[DUMP_OBJECT];
  if (expected === undefined) return fail("InvalidManifest", "the manifest lists no dump object");
  const dir = await mkdtemp(join(workDir ?? tmpdir(), "zitadel-operator-restore-"));
  try {
    const file = join(dir, DUMP_OBJECT);
    try {
      await pipeline(
        await readVerified(store, objectKey(location, DUMP_OBJECT), expected),
        createWriteStream(file, { mode: 0o600 }),
      );
    } catch (err) {
      return fail(err instanceof IntegrityError ? "BackupCorrupt" : "BackupUnreadable", errorText(err));
    }
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Compared = { ok: true; tables: TableStats[] } | (Failure & { differences?: TableDifference[] });

async function restoreAndCompare(
  connection: PostgresConnection,
  dumpFile: string,
  database: string,
  manifest: Manifest,
  options: { keepOwners: boolean },
): Promise<Compared> {
  const args = [
    "--format=custom",
    "--exit-on-error",
    "--single-transaction",
    "--no-password",
    `--dbname=${database}`,
    // A scratch copy checks data; it must not depend on the source's roles existing here.
    ...(options.keepOwners ? [] : ["--no-owner", "--no-privileges"]),
    dumpFile,
  ];
  const exit = await runTool("pg_restore", args, libpqEnvironment(connection, database));
  if (exit.code !== 0)
    return fail(
      "PgRestoreFailed",
      `pg_restore failed (${exitText(exit)}): ${scrubPassword(connection, exit.stderr)}`,
    );
  const client = await connect(connection, database);
  let tables: TableStats[];
  try {
    for (const setting of SESSION_SETTINGS) await client.query(setting);
    tables = await tableStats(client);
  } finally {
    await client.end().catch(() => {});
  }
  const differences = compareTableStats(manifest.tables, tables);
  if (differences.length > 0)
    return {
      ...fail(
        "DataDiffers",
        `the restored data differs from the backup's snapshot: ${describeDifferences(differences)}`,
      ),
      differences,
    };
  return { ok: true, tables };
}

async function tableStats(client: pg.Client): Promise<TableStats[]> {
  const tables = await client.query<{ schema: string; name: string }>(TABLE_LIST_QUERY);
  const stats: TableStats[] = [];
  for (const { schema, name } of tables.rows) {
    const row = (await client.query<{ rows: string; checksum: string }>(tableStatsQuery(schema, name)))
      .rows[0];
    stats.push({ schema, name, rows: row?.rows ?? "0", checksum: row?.checksum ?? "0" });
  }
  return stats;
}

async function userRelationCount(connection: PostgresConnection, database: string): Promise<number> {
  const client = await connect(connection, database);
  try {
    return (await client.query<{ relations: number }>(USER_RELATION_COUNT_QUERY)).rows[0]?.relations ?? 0;
  } finally {
    await client.end().catch(() => {});
  }
}

function pick(put: StoredObject): StoredObject {
  return { size: put.size, sha256: put.sha256 };
}

function fail(reason: string, message: string): Failure {
  return { ok: false, reason, message };
}

function exitText(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal === null ? `exit code ${exit.code}` : `killed by ${exit.signal}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
