import { describe, expect, it } from "vitest";
import {
  backupDirectory,
  compareTableStats,
  describeDifferences,
  type Manifest,
  objectKey,
  parseManifest,
  serializeManifest,
  type TableStats,
} from "../../../src/backup/manifest.ts";

const table = (name: string, rows: string, checksum = `c-${name}-${rows}`): TableStats => ({
  schema: "eventstore",
  name,
  rows,
  checksum,
});

const MANIFEST: Manifest = {
  formatVersion: 1,
  engine: "PostgreSQL",
  namespace: "zitadel",
  source: "prod",
  backupName: "nightly-20260101",
  database: "zitadel",
  serverVersion: "15.20",
  startedAt: "2026-01-01T02:00:00.000Z",
  completedAt: "2026-01-01T02:01:00.000Z",
  objects: { dump: { size: 10, sha256: "a".repeat(64) } },
  tables: [table("events", "3")],
  masterkey: { keyId: "hmac-sha256:0123", recipients: ["age1example"], object: "masterkey.age" },
};

describe("backup layout", () => {
  it("puts each backup in <namespace>/<source>/<backupName>/ under the store's prefix", () => {
    const location = { namespace: "zitadel", source: "prod", backupName: "nightly-1" };
    expect(backupDirectory(location)).toBe("zitadel/prod/nightly-1/");
    expect(objectKey(location, "dump")).toBe("zitadel/prod/nightly-1/dump");
  });

  it("refuses path segments that could leave the directory", () => {
    for (const bad of ["..", "a/b", "", "x y"])
      expect(() => backupDirectory({ namespace: "n", source: bad, backupName: "b" })).toThrow();
  });
});

describe("manifest", () => {
  it("round-trips through JSON", () => {
    expect(parseManifest(serializeManifest(MANIFEST))).toEqual({ ok: true, manifest: MANIFEST });
  });

  it("rejects text that is not a manifest, saying why", () => {
    expect(parseManifest("{")).toMatchObject({ ok: false, message: expect.stringMatching(/not JSON/) });
    expect(parseManifest(JSON.stringify({ ...MANIFEST, formatVersion: 2 }))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/formatVersion/),
    });
  });

  it("holds no masterkey, only its id and the recipients of its encrypted copy", () => {
    expect(serializeManifest(MANIFEST)).not.toMatch(/"masterkey":\s*"/);
    expect(() =>
      serializeManifest({ ...MANIFEST, masterkey: { value: "x" } } as unknown as Manifest),
    ).toThrow();
  });
});

describe("compareTableStats", () => {
  it("finds nothing when the tables are equal in any order", () => {
    expect(compareTableStats([table("a", "1"), table("b", "2")], [table("b", "2"), table("a", "1")])).toEqual(
      [],
    );
  });

  it("reports missing, unexpected, row count and checksum differences by table", () => {
    const differences = compareTableStats(
      [table("gone", "1"), table("rows", "5"), table("sum", "2", "x")],
      [table("new", "1"), table("rows", "4"), table("sum", "2", "y")],
    );
    expect(differences).toEqual([
      { table: "eventstore.gone", problem: "missing", expected: "1" },
      { table: "eventstore.new", problem: "unexpected", actual: "1" },
      { table: "eventstore.rows", problem: "rows", expected: "5", actual: "4" },
      { table: "eventstore.sum", problem: "checksum", expected: "x", actual: "y" },
    ]);
    expect(describeDifferences(differences, 3)).toBe(
      "eventstore.gone is missing; eventstore.new is not in the backup; eventstore.rows has 4 rows instead of 5; " +
        "and 1 more",
    );
  });
});
