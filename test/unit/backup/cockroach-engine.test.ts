// The CockroachDB engine's decisions, against a small in-memory model of a CockroachDB cluster: no CockroachDB
// can run on this machine (see the README). The model answers exactly the statements src/db/cockroach.ts pins
// (anything else fails the test), keeps databases as tables with row counts, and BACKUP/RESTORE copy them. The
// store is a real directory store, and masterkey.age is decrypted with age for real.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backupCockroach,
  type Collection,
  hlcSecondsBefore,
  hlcToIso,
  restoreCockroach,
  verifyCockroach,
} from "../../../src/backup/cockroach.ts";
import type { SqlSession } from "../../../src/backup/crdb-connection.ts";
import { FilesystemStore } from "../../../src/backup/fs-store.ts";
import { type Manifest, parseManifest } from "../../../src/backup/manifest.ts";
import { masterkeyKeyId } from "../../../src/backup/masterkey.ts";
import { storageUri } from "../../../src/db/cockroach.ts";

type Database = Map<string, number>; // "schema.table" -> rows
type Row = Record<string, unknown>;

/** A CockroachDB cluster as far as the engine can tell: databases of tables with row counts, and backups. */
class Cluster {
  readonly databases = new Map<string, Database>();
  readonly backups = new Map<string, Map<string, Database>>();
  readonly statements: string[] = [];
  hlc = "1764300000123456789.0000000002";
  /** Rows a RESTORE silently loses from each table (to simulate a restore that does not match). */
  restoreLoses = 0;
  failOn?: { pattern: RegExp; error: string };
  inTxnAsOf: string | undefined;

  session(): SqlSession {
    return {
      query: async <Row extends Record<string, unknown>>(text: string, params?: readonly unknown[]) =>
        this.run(text, params ?? []) as Row[],
      close: async () => {},
    };
  }

  private run(text: string, params: readonly unknown[]): Record<string, unknown>[] {
    this.statements.push(text);
    if (this.failOn?.pattern.test(text)) throw new Error(this.failOn.error);
    for (const [pattern, answer] of this.routes) {
      const m = pattern.exec(text);
      if (m) return answer(m.slice(1), params);
    }
    throw new Error(`the model does not know this statement: ${text}`);
  }

  /** Each pinned statement's shape, and what the model answers to it. */
  private readonly routes: [RegExp, (m: (string | undefined)[], params: readonly unknown[]) => Row[]][] = [
    [
      /^SELECT cluster_logical_timestamp\(\)/,
      () => [{ ts: this.hlc, version: "CockroachDB CCL v25.2.1 (x86_64-pc-linux-gnu)" }],
    ],
    [
      /^BEGIN TRANSACTION AS OF SYSTEM TIME '([^']+)'$/,
      ([asOf]) => {
        this.inTxnAsOf = asOf;
        return [];
      },
    ],
    [
      /^COMMIT$/,
      () => {
        this.inTxnAsOf = undefined;
        return [];
      },
    ],
    [
      /^SELECT database_name FROM \[SHOW DATABASES\] WHERE database_name <> 'system'/,
      () => [...this.databases.keys()].sort().map((database_name) => ({ database_name })),
    ],
    [
      /^SELECT count\(\*\)::INT8 AS n FROM \[SHOW DATABASES\]/,
      (_, params) => [{ n: this.databases.has(String(params[0])) ? "1" : "0" }],
    ],
    [
      /^SELECT table_schema AS schema, table_name AS name FROM "([^"]+)"\.information_schema/,
      ([name]) => {
        const db = this.databases.get(name ?? "");
        if (db === undefined) throw new Error(`database "${name}" does not exist`);
        return [...db.keys()].sort().map((k) => ({ schema: k.split(".")[0], name: k.split(".")[1] }));
      },
    ],
    [
      /^SELECT count\(\*\)::STRING AS rows FROM "([^"]+)"\."([^"]+)"\."([^"]+)"$/,
      ([db, schema, table]) => [
        { rows: String(this.databases.get(db ?? "")?.get(`${schema}.${table}`) ?? 0) },
      ],
    ],
    [
      /^BACKUP (?:DATABASE "([^"]+)" )?INTO '([^']+)' AS OF SYSTEM TIME '([^']+)'(?: WITH revision_history)?$/,
      ([database, uri]) => {
        const copy = new Map<string, Database>();
        for (const [name, tables] of this.databases)
          if (database === undefined || name === database) copy.set(name, new Map(tables));
        this.backups.set(uri ?? "", copy);
        return [{ job_id: "1034", status: "succeeded", fraction_completed: 1, rows: "42", bytes: "8192" }];
      },
    ],
    [
      /^RESTORE DATABASE "([^"]+)" FROM LATEST IN '([^']+)'(?: AS OF SYSTEM TIME '[^']+')?(?: WITH new_db_name = '([^']+)')?$/,
      ([database, uri, newName]) => {
        const backup = this.backups.get(uri ?? "")?.get(database ?? "");
        if (backup === undefined) throw new Error(`no backup of ${database} in ${uri}`);
        const target = newName ?? database ?? "";
        if (this.databases.has(target)) throw new Error(`database "${target}" already exists`);
        this.databases.set(
          target,
          new Map([...backup].map(([k, rows]) => [k, Math.max(0, rows - this.restoreLoses)])),
        );
        return [];
      },
    ],
    [
      /^SHOW BACKUP FROM LATEST IN '([^']+)' WITH check_files$/,
      ([uri]) => {
        if (!this.backups.has(uri ?? "")) throw new Error("backup files are missing");
        return [{ database_name: "x" }];
      },
    ],
    [
      /^DROP DATABASE IF EXISTS "([^"]+)" (RESTRICT|CASCADE)$/,
      ([name, mode]) => {
        const db = this.databases.get(name ?? "");
        if (db && db.size > 0 && mode === "RESTRICT") throw new Error(`database "${name}" is not empty`);
        this.databases.delete(name ?? "");
        return [];
      },
    ],
    [
      /^ALTER DATABASE "([^"]+)" RENAME TO "([^"]+)"$/,
      ([from, to]) => {
        const db = this.databases.get(from ?? "");
        if (db === undefined || this.databases.has(to ?? "")) throw new Error("cannot rename");
        this.databases.delete(from ?? "");
        this.databases.set(to ?? "", db);
        return [];
      },
    ],
  ];
}

const SECRET = "s3cr3t/+=&key";
const collection = (dir: string): Collection => ({
  uri: storageUri({
    kind: "s3",
    bucket: "backups",
    prefix: `prod/${dir}`,
    credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: SECRET },
  }),
  description: `s3://backups/prod/${dir}`,
});
const location = { namespace: "iam", source: "zitadel", backupName: "nightly" };
const masterkey = "0123456789abcdef0123456789abcdef";

let root: string;
let store: FilesystemStore;
let cluster: Cluster;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "crdb-engine-"));
  store = new FilesystemStore(root);
  cluster = new Cluster();
  cluster.databases.set(
    "zitadel",
    new Map([
      ["eventstore.events2", 40],
      ["projections.users", 2],
    ]),
  );
  cluster.databases.set("defaultdb", new Map());
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function takeBackup(recipients?: string[], revisionHistory = false): Promise<Manifest> {
  const result = await backupCockroach({
    revisionHistory,
    connect: async () => cluster.session(),
    store,
    location,
    collection: collection("iam/zitadel/nightly"),
    database: "zitadel",
    ...(recipients ? { masterkey: { value: masterkey, recipients } } : {}),
    now: () => new Date("2026-11-28T12:00:00Z"),
  });
  if (!result.ok) throw new Error(`${result.reason}: ${result.message}`);
  return result.manifest;
}

describe("hlcSecondsBefore", () => {
  it("moves the wall time back exactly, without float rounding, and drops the logical part", () => {
    expect(hlcSecondsBefore("1764300000123456789.0000000002", 10)).toBe("1764299990123456789.0000000000");
    expect(hlcSecondsBefore("1764300000123456789", 0)).toBe("1764300000123456789.0000000000");
    expect(() => hlcSecondsBefore("-10s", 10)).toThrow(/not an HLC timestamp/);
    expect(hlcToIso("1764299990123456789.0000000000")).toBe("2025-11-28T03:19:50.123Z");
  });
});

describe("backupCockroach", () => {
  it("counts rows and backs up at one timestamp, then writes masterkey.age and the manifest last", async () => {
    const identity = await generateIdentity();
    const manifest = await takeBackup([await identityToRecipient(identity)]);
    const asOf = "1764299990123456789.0000000000";
    const uri = collection("iam/zitadel/nightly").uri;
    expect(cluster.statements).toEqual([
      "SELECT cluster_logical_timestamp()::STRING AS ts, version() AS version",
      "SELECT count(*)::INT8 AS n FROM [SHOW DATABASES] WHERE database_name = $1",
      `BEGIN TRANSACTION AS OF SYSTEM TIME '${asOf}'`,
      expect.stringMatching(/^SELECT table_schema AS schema, table_name AS name FROM "zitadel"/),
      'SELECT count(*)::STRING AS rows FROM "zitadel"."eventstore"."events2"',
      'SELECT count(*)::STRING AS rows FROM "zitadel"."projections"."users"',
      "COMMIT",
      `BACKUP DATABASE "zitadel" INTO '${uri}' AS OF SYSTEM TIME '${asOf}'`,
    ]);
    expect(manifest.engine).toBe("CockroachDB");
    expect(manifest.cockroach).toEqual({
      asOf,
      jobId: "1034",
      bytes: "8192",
      rows: "42",
      databases: ["zitadel"],
      cluster: false,
    });
    expect(manifest.tables.map((t) => [t.schema, t.name, t.rows])).toEqual([
      ["zitadel.eventstore", "events2", "40"],
      ["zitadel.projections", "users", "2"],
    ]);
    const dir = join(root, "iam/zitadel/nightly");
    const stored = parseManifest(await readFile(join(dir, "manifest.json"), "utf8"));
    expect(stored.ok && stored.manifest.masterkey?.keyId).toBe(masterkeyKeyId(masterkey));
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    expect(await decrypter.decrypt(await readFile(join(dir, "masterkey.age")), "text")).toBe(masterkey);
    // The collection URI's credentials are nowhere in what we stored.
    expect(await readFile(join(dir, "manifest.json"), "utf8")).not.toContain(SECRET.slice(0, 6));
  });

  it("backs up the whole cluster's user databases when no database is given", async () => {
    const result = await backupCockroach({
      connect: async () => cluster.session(),
      store,
      location: { ...location, source: "crdb" },
      collection: collection("iam/crdb/nightly"),
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest.cockroach?.cluster).toBe(true);
    expect(result.manifest.cockroach?.databases).toEqual(["defaultdb", "zitadel"]);
    expect(cluster.statements.some((s) => /^BACKUP INTO '/.test(s))).toBe(true);
  });

  it("refuses a name that already holds a backup before it sends any SQL", async () => {
    await writeFile(join(root, "leftover"), "x");
    await store.put("iam/zitadel/nightly/manifest.json", "{}");
    const result = await backupCockroach({
      connect: async () => cluster.session(),
      store,
      location,
      collection: collection("iam/zitadel/nightly"),
      database: "zitadel",
    });
    expect(result).toMatchObject({ ok: false, reason: "BackupExists" });
    expect(cluster.statements).toEqual([]);
  });

  it("fails on a missing database, and reports a failed BACKUP without the URI's credentials", async () => {
    const missing = await backupCockroach({
      connect: async () => cluster.session(),
      store,
      location,
      collection: collection("iam/zitadel/nightly"),
      database: "nope",
    });
    expect(missing).toMatchObject({ ok: false, reason: "SourceNotFound" });

    const uri = collection("iam/zitadel/nightly").uri;
    cluster.failOn = { pattern: /^BACKUP/, error: `failed to write to ${uri}: access denied` };
    const failed = await backupCockroach({
      connect: async () => cluster.session(),
      store,
      location,
      collection: collection("iam/zitadel/nightly"),
      database: "zitadel",
    });
    expect(failed).toMatchObject({ ok: false, reason: "BackupFailed" });
    expect(JSON.stringify(failed)).not.toContain(SECRET.slice(0, 6));
    expect(JSON.stringify(failed)).toContain("s3://backups/prod/iam/zitadel/nightly");
    expect(await store.list("iam/zitadel/nightly/")).toEqual([]);
  });
});

describe("restoreCockroach", () => {
  const restore = (manifest: Manifest, extra: { targetDatabase?: string; overwrite?: boolean } = {}) =>
    restoreCockroach({
      connect: async () => cluster.session(),
      store,
      location,
      collection: collection("iam/zitadel/nightly"),
      manifest,
      random: () => "f00d",
      ...extra,
    });

  it("restores into a missing database and checks the row counts", async () => {
    const manifest = await takeBackup();
    cluster.databases.delete("zitadel");
    cluster.statements.length = 0;
    const result = await restore(manifest);
    expect(result).toMatchObject({ ok: true, database: "zitadel" });
    expect(cluster.databases.get("zitadel")?.get("eventstore.events2")).toBe(40);
    expect(cluster.statements).toContain(
      `RESTORE DATABASE "zitadel" FROM LATEST IN '${collection("iam/zitadel/nightly").uri}'`,
    );
  });

  it("refuses a database with tables without overwrite, and sends no RESTORE", async () => {
    const manifest = await takeBackup();
    cluster.statements.length = 0;
    expect(await restore(manifest)).toMatchObject({ ok: false, reason: "TargetExists" });
    expect(cluster.statements.some((s) => s.startsWith("RESTORE"))).toBe(false);
  });

  it("with overwrite restores beside the original and swaps only after the copy matched", async () => {
    const manifest = await takeBackup();
    cluster.databases.get("zitadel")?.set("eventstore.events2", 99);
    cluster.databases.get("zitadel")?.delete("projections.users");
    cluster.statements.length = 0;
    const result = await restore(manifest, { overwrite: true });
    expect(result).toMatchObject({ ok: true, database: "zitadel" });
    expect(cluster.statements.filter((s) => !s.startsWith("SELECT"))).toEqual([
      `RESTORE DATABASE "zitadel" FROM LATEST IN '${collection("iam/zitadel/nightly").uri}' WITH new_db_name = 'zitadel_restore_f00d'`,
      'ALTER DATABASE "zitadel" RENAME TO "zitadel_replaced_f00d"',
      'ALTER DATABASE "zitadel_restore_f00d" RENAME TO "zitadel"',
      'DROP DATABASE IF EXISTS "zitadel_replaced_f00d" CASCADE',
    ]);
    expect([...cluster.databases.keys()].sort()).toEqual(["defaultdb", "zitadel"]);
    expect(cluster.databases.get("zitadel")?.get("eventstore.events2")).toBe(40);
    expect(cluster.databases.get("zitadel")?.get("projections.users")).toBe(2);
  });

  it("leaves the original untouched when the copy differs from the backup", async () => {
    const manifest = await takeBackup();
    cluster.databases.get("zitadel")?.set("eventstore.events2", 99);
    cluster.restoreLoses = 1;
    const result = await restore(manifest, { overwrite: true });
    expect(result).toMatchObject({ ok: false, reason: "DataDiffers" });
    expect(cluster.databases.get("zitadel")?.get("eventstore.events2")).toBe(99);
    expect([...cluster.databases.keys()].sort()).toEqual(["defaultdb", "zitadel"]);
  });

  it("renames the original back when the copy cannot be moved into place", async () => {
    const manifest = await takeBackup();
    cluster.databases.get("zitadel")?.set("eventstore.events2", 99);
    cluster.failOn = { pattern: /"zitadel_restore_f00d" RENAME TO "zitadel"$/, error: "rename refused" };
    const result = await restore(manifest, { overwrite: true });
    expect(result).toMatchObject({ ok: false, reason: "RestoreFailed" });
    expect(cluster.databases.get("zitadel")?.get("eventstore.events2")).toBe(99);
    expect([...cluster.databases.keys()].sort()).toEqual(["defaultdb", "zitadel"]);
  });

  it("restores under a new name next to the live database", async () => {
    const manifest = await takeBackup();
    const result = await restore(manifest, { targetDatabase: "zitadel_copy" });
    expect(result).toMatchObject({ ok: true, database: "zitadel_copy" });
    expect(cluster.databases.get("zitadel_copy")?.get("projections.users")).toBe(2);
  });
});

describe("verifyCockroach", () => {
  const verify = (manifest: Manifest) =>
    verifyCockroach({
      connect: async () => cluster.session(),
      store,
      location,
      collection: collection("iam/zitadel/nightly"),
      manifest,
      random: () => "beef",
    });

  it("checks files, restores into a scratch database, compares and always drops it", async () => {
    const identity = await generateIdentity();
    const manifest = await takeBackup([await identityToRecipient(identity)]);
    const passed = await verify(manifest);
    expect(passed).toMatchObject({ result: "Passed" });
    expect(cluster.databases.has("zitadel_verify_beef")).toBe(false);

    cluster.restoreLoses = 1;
    const failed = await verify(manifest);
    expect(failed).toMatchObject({ result: "Failed", reason: "DataDiffers" });
    expect(failed.differences.map((d) => d.table)).toEqual([
      "zitadel.eventstore.events2",
      "zitadel.projections.users",
    ]);
    expect(cluster.databases.has("zitadel_verify_beef")).toBe(false);
  });

  it("finds a corrupted masterkey.age and missing backup files", async () => {
    const identity = await generateIdentity();
    const manifest = await takeBackup([await identityToRecipient(identity)]);
    await writeFile(join(root, "iam/zitadel/nightly/masterkey.age"), "tampered");
    expect(await verify(manifest)).toMatchObject({ result: "Failed", reason: "BackupCorrupt" });

    const clean = await takeBackupElsewhere();
    cluster.backups.clear();
    expect(await verify(clean)).toMatchObject({ result: "Failed", reason: "BackupCorrupt" });
  });
});

async function takeBackupElsewhere(): Promise<Manifest> {
  await rm(join(root, "iam"), { recursive: true, force: true });
  return takeBackup();
}

describe("a point in time (revision history)", () => {
  const restoreAt = (manifest: Manifest, asOf: string) =>
    restoreCockroach({
      connect: async () => cluster.session(),
      store,
      location,
      collection: collection("iam/zitadel/nightly"),
      manifest,
      targetDatabase: "zitadel_then",
      asOf,
    });

  it("backs up WITH revision_history and restores AS OF SYSTEM TIME an earlier time", async () => {
    const manifest = await takeBackup(undefined, true);
    expect(manifest.cockroach?.revisionHistory).toBe(true);
    expect(cluster.statements.at(-1)).toMatch(
      / AS OF SYSTEM TIME '1764299990123456789.0000000000' WITH revision_history$/,
    );
    cluster.restoreLoses = 1; // an earlier time holds other rows: they are not compared with the manifest's
    const result = await restoreAt(manifest, "2025-11-28T03:00:00Z");
    expect(result).toMatchObject({ ok: true, database: "zitadel_then" });
    expect(cluster.statements).toContain(
      `RESTORE DATABASE "zitadel" FROM LATEST IN '${collection("iam/zitadel/nightly").uri}' ` +
        "AS OF SYSTEM TIME '2025-11-28 03:00:00.000000+00:00' WITH new_db_name = 'zitadel_then'",
    );
  });

  it("refuses a point in time without revision history, after the backup, or unreadable, before any RESTORE", async () => {
    const plain = await takeBackup();
    expect(await restoreAt(plain, "2025-11-28T03:00:00Z")).toMatchObject({
      ok: false,
      reason: "AsOfUnsupported",
    });
    await rm(join(root, "iam"), { recursive: true, force: true });
    const kept = await takeBackup(undefined, true);
    expect(await restoreAt(kept, "2025-11-28T04:00:00Z")).toMatchObject({
      ok: false,
      reason: "AsOfUnsupported",
    });
    expect(await restoreAt(kept, "yesterday")).toMatchObject({ ok: false, reason: "InvalidAsOf" });
    expect(cluster.statements.some((s) => s.startsWith("RESTORE"))).toBe(false);
  });
});
