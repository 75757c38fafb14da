import { describe, expect, it } from "vitest";
import { usersStatements } from "../../../../src/controllers/cockroachcluster/users.ts";

describe("spec.users as SQL statements", () => {
  it("creates each user once, in name order, so a reordered list renders the same Job", () => {
    const statements = usersStatements([{ name: "reporting" }, { name: "audit" }, { name: "reporting" }]);
    expect(statements).toEqual([
      'CREATE USER IF NOT EXISTS "audit"',
      'CREATE USER IF NOT EXISTS "reporting"',
    ]);
    expect(usersStatements([{ name: "audit" }, { name: "reporting" }])).toEqual(statements);
  });
});
