import { describe, expect, it } from "vitest";
import { scratchDatabaseName } from "../../../src/backup/pg-database.ts";
import { SESSION_SETTINGS, TABLE_LIST_QUERY, tableStatsQuery } from "../../../src/backup/table-stats.ts";

describe("table statistics SQL", () => {
  it("pins the per-table query: exact count and an order-independent checksum, identifiers quoted", () => {
    expect(tableStatsQuery("event store", 'my"table')).toBe(
      "SELECT count(*)::text AS rows, " +
        "coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text AS checksum " +
        'FROM "event store"."my""table" AS t',
    );
  });

  it("lists ordinary tables outside the system schemas", () => {
    expect(TABLE_LIST_QUERY).toContain("c.relkind = 'r'");
    expect(TABLE_LIST_QUERY).toContain("NOT LIKE 'pg\\_%'");
  });

  it("pins every setting that changes how a row prints", () => {
    expect(SESSION_SETTINGS).toEqual([
      "SET TimeZone = 'UTC'",
      "SET DateStyle = 'ISO, YMD'",
      "SET IntervalStyle = 'postgres'",
      "SET extra_float_digits = 3",
      "SET bytea_output = 'hex'",
    ]);
  });
});

describe("scratchDatabaseName", () => {
  it("appends the purpose and a random part", () => {
    expect(scratchDatabaseName("zitadel", "verify", "0a1b2c3d")).toBe("zitadel_verify_0a1b2c3d");
  });

  it("shortens the base to stay within PostgreSQL's 63 bytes", () => {
    const name = scratchDatabaseName("ü".repeat(40), "restore", "0a1b2c3d");
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    expect(name.endsWith("_restore_0a1b2c3d")).toBe(true);
  });
});
