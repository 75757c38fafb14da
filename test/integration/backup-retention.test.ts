// Retention across a sequence of scheduled runs, for real: each run takes a backup of a real database into the S3
// server on loopback (or fails), then planRetention decides and the test deletes what it says, objects and
// "Backup resources" (records here) alike, the way the BackupSchedule controller will. The clock is simulated.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackupLocation, backupDirectory } from "../../src/backup/manifest.ts";
import type { PostgresConnection } from "../../src/backup/pg-connection.ts";
import { backupPostgres } from "../../src/backup/postgres.ts";
import { planRetention, type RetainedBackup, type RetentionPolicy } from "../../src/backup/retention.ts";
import { S3Store } from "../../src/backup/s3-store.ts";
import { deletePrefix } from "../../src/backup/store.ts";
import { type S3Server, startS3Server } from "../support/s3.ts";

const POSTGRES: PostgresConnection = { host: "127.0.0.1", port: 5432, user: "postgres", sslMode: "disable" };
const DATABASE = `bk_ret_${process.pid}_${randomBytes(3).toString("hex")}`;
const DAY = 86_400_000;
const START = Date.parse("2026-01-01T02:00:00Z");
const POLICY: RetentionPolicy = { keepLast: 3, maxAgeMs: 2 * DAY, failedHistoryLimit: 1 };

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ ...POSTGRES, database: "postgres", ssl: false });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

let s3: S3Server;
let store: S3Store;
const backups: RetainedBackup[] = [];

function location(name: string): BackupLocation {
  return { namespace: "zitadel", source: "prod", backupName: name };
}

/** One scheduled run on `day`: back up (or fail to), then apply retention. Returns what was deleted. */
async function scheduledRun(day: number, options: { fail?: boolean; restoring?: string[] } = {}) {
  const now = new Date(START + day * DAY);
  const name = `prod-day${day}`;
  const result = await backupPostgres({
    connection: POSTGRES,
    database: options.fail ? `${DATABASE}_gone` : DATABASE,
    store,
    location: location(name),
    now: () => now,
  });
  backups.push({
    name,
    phase: result.ok ? "Completed" : "Failed",
    completedAt: now.toISOString(),
    location: backupDirectory(location(name)),
  });
  const plan = planRetention(backups, POLICY, now, { restoresInProgress: options.restoring ?? [] });
  for (const doomed of plan.delete) {
    await deletePrefix(store, backupDirectory(location(doomed.name)));
    backups.splice(
      backups.findIndex((b) => b.name === doomed.name),
      1,
    );
  }
  return plan.delete.map((d) => d.name);
}

/** The Backup records left, and the backups whose objects are in the store, by day. */
async function remaining(): Promise<{ records: number[]; stored: number[] }> {
  const day = (name: string) => Number(name.replace(/^.*day/, ""));
  const objects = await store.list("zitadel/prod/");
  const stored = [...new Set(objects.map((o) => o.key.split("/")[2] ?? ""))].map(day);
  return {
    records: backups.map((b) => day(b.name)).sort((a, b) => a - b),
    stored: stored.sort((a, b) => a - b),
  };
}

beforeAll(async () => {
  s3 = await startS3Server();
  store = new S3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
  await admin(`CREATE DATABASE "${DATABASE}"`);
  const client = new pg.Client({ ...POSTGRES, database: DATABASE, ssl: false });
  await client.connect();
  await client
    .query("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g")
    .finally(() => client.end());
});

afterAll(async () => {
  store?.close();
  await s3?.stop();
  await admin(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
});

describe("retention over a sequence of scheduled runs (keepLast 3, maxAge 2d, 1 failed kept)", () => {
  it("keeps exactly the newest three, the young, the one being restored and the newest failure", async () => {
    for (const day of [0, 1, 2]) expect(await scheduledRun(day)).toEqual([]);
    expect(await remaining()).toEqual({ records: [0, 1, 2], stored: [0, 1, 2] });

    // Day 0 is now fourth newest and three days old: both rules let it go.
    expect(await scheduledRun(3)).toEqual(["prod-day0"]);
    expect(await remaining()).toEqual({ records: [1, 2, 3], stored: [1, 2, 3] });

    // A failed run deletes nothing that was good and leaves no objects.
    expect(await scheduledRun(4, { fail: true })).toEqual([]);
    expect(await remaining()).toEqual({ records: [1, 2, 3, 4], stored: [1, 2, 3] });

    expect(await scheduledRun(5)).toEqual(["prod-day1"]);
    expect(await remaining()).toEqual({ records: [2, 3, 4, 5], stored: [2, 3, 5] });

    // Day 2 would go, but a Restore is reading it.
    expect(await scheduledRun(6, { restoring: ["prod-day2"] })).toEqual([]);
    expect(await remaining()).toEqual({ records: [2, 3, 4, 5, 6], stored: [2, 3, 5, 6] });

    // The restore is done: day 2 and day 3 go.
    expect((await scheduledRun(7)).sort()).toEqual(["prod-day2", "prod-day3"]);
    expect(await remaining()).toEqual({ records: [4, 5, 6, 7], stored: [5, 6, 7] });

    // Backups start failing: only the newest failure is kept, and the last three good ones stay however old.
    expect(await scheduledRun(8, { fail: true })).toEqual(["prod-day4"]);
    expect(await scheduledRun(30, { fail: true })).toEqual(["prod-day8"]);
    expect(await remaining()).toEqual({ records: [5, 6, 7, 30], stored: [5, 6, 7] });
  });
});
