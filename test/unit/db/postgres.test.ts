import { describe, expect, it } from "vitest";
import {
  createDatabaseSql,
  createRoleSql,
  databaseQuery,
  grantOnDatabaseSql,
  isPrintableAscii,
  type ObservedPostgres,
  passwordLiteral,
  passwordResetStep,
  planPostgresBootstrap,
  quoteIdent,
  quoteLiteral,
  revokePublicOnDatabaseSql,
  roleQuery,
  scramSha256Verifier,
  ZITADEL_ROLE_ATTRIBUTES,
} from "../../../src/db/postgres.ts";

const SALT = Buffer.from("+eZvmvTr70BOGTGZhyVpVw==", "base64");
const DESIRED = { database: "zitadel", role: "zitadel", password: "s3cret", salt: SALT };
const VERIFIER = scramSha256Verifier("s3cret", SALT);

describe("quoteIdent", () => {
  it("always quotes, so case and keywords survive", () => {
    expect(quoteIdent("zitadel")).toBe('"zitadel"');
    expect(quoteIdent("User")).toBe('"User"');
    expect(quoteIdent("select")).toBe('"select"');
  });

  it("doubles embedded double quotes", () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('"; DROP DATABASE x; --')).toBe('"""; DROP DATABASE x; --"');
  });

  it("refuses what PostgreSQL would truncate or cannot store", () => {
    expect(() => quoteIdent("")).toThrow(/empty/);
    expect(() => quoteIdent("a\0b")).toThrow(/NUL/);
    expect(quoteIdent("a".repeat(63))).toBe(`"${"a".repeat(63)}"`);
    expect(() => quoteIdent("a".repeat(64))).toThrow(/63 bytes/);
    // 32 two-byte characters are 64 bytes.
    expect(() => quoteIdent("é".repeat(32))).toThrow(/63 bytes/);
  });
});

describe("quoteLiteral", () => {
  it("doubles single quotes", () => {
    expect(quoteLiteral("it's")).toBe("'it''s'");
    expect(quoteLiteral("'; DROP ROLE postgres; --")).toBe("'''; DROP ROLE postgres; --'");
  });

  it("uses the E'' form with doubled backslashes when there is a backslash, like quote_literal()", () => {
    expect(quoteLiteral("a\\b")).toBe("E'a\\\\b'");
    expect(quoteLiteral("\\'")).toBe("E'\\\\'''");
  });

  it("keeps everything else as is", () => {
    expect(quoteLiteral("")).toBe("''");
    expect(quoteLiteral("pä$$ wörd\n")).toBe("'pä$$ wörd\n'");
  });

  it("refuses NUL without repeating the value", () => {
    expect(() => quoteLiteral("hunter2\0")).toThrow("an SQL string literal must not contain NUL");
  });
});

describe("scramSha256Verifier", () => {
  it("matches what PostgreSQL 15 stored for the same password and salt", () => {
    // From `SET password_encryption = 'scram-sha-256'; CREATE ROLE r PASSWORD 'correct horse battery staple';`
    // then `SELECT rolpassword FROM pg_authid`.
    expect(scramSha256Verifier("correct horse battery staple", SALT)).toBe(
      "SCRAM-SHA-256$4096:+eZvmvTr70BOGTGZhyVpVw==$2I2q6VrzElrTs+QRx73lnOnDxowOoXID1dGiaUDywq4=:" +
        "/84oM80omhGM/qqONJPqjMsYRRrljdSAVO/37yEjpMk=",
    );
  });

  it("is sent for printable-ASCII passwords and the password itself otherwise", () => {
    expect(isPrintableAscii("abc XYZ ~!")).toBe(true);
    expect(isPrintableAscii("pässword")).toBe(false);
    expect(passwordLiteral("s3cret", SALT)).toBe(`'${VERIFIER}'`);
    expect(passwordLiteral("pässword", SALT)).toBe("'pässword'");
  });
});

describe("SQL text", () => {
  it("creates a role that may log in and do nothing else", () => {
    expect(createRoleSql("zitadel", "'x'")).toBe(
      `CREATE ROLE "zitadel" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD 'x'`,
    );
  });

  it("creates the database owned by the admin, closes it to PUBLIC, and grants CONNECT, CREATE, TEMPORARY", () => {
    expect(createDatabaseSql("zitadel")).toBe(`CREATE DATABASE "zitadel"`);
    expect(revokePublicOnDatabaseSql("zitadel")).toBe(`REVOKE ALL ON DATABASE "zitadel" FROM PUBLIC`);
    expect(grantOnDatabaseSql("zitadel", "zitadel", ["CONNECT", "CREATE", "TEMPORARY"])).toBe(
      `GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "zitadel" TO "zitadel"`,
    );
  });

  it("reads the catalog with parameters, not with quoted text", () => {
    const role = roleQuery("x'; DROP ROLE postgres; --");
    expect(role.text).toContain("WHERE rolname = $1");
    expect(role.values).toEqual(["x'; DROP ROLE postgres; --"]);
    const database = databaseQuery("zitadel", "zitadel");
    expect(database.text).toContain("WHERE d.datname = $1");
    expect(database.text).toContain("acldefault('d', d.datdba)");
    expect(database.values).toEqual(["zitadel", "zitadel"]);
  });
});

describe("planPostgresBootstrap", () => {
  it("creates role, database and grants on an empty server, role first", () => {
    const steps = planPostgresBootstrap({ role: undefined, database: undefined }, DESIRED);
    expect(steps).toEqual([
      {
        action: 'create role "zitadel"',
        sql:
          'CREATE ROLE "zitadel" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ' +
          `PASSWORD '${VERIFIER}'`,
      },
      { action: 'create database "zitadel"', sql: 'CREATE DATABASE "zitadel"' },
      {
        action: 'revoke the default privileges of PUBLIC on database "zitadel"',
        sql: 'REVOKE ALL ON DATABASE "zitadel" FROM PUBLIC',
      },
      {
        action: 'grant CONNECT, CREATE, TEMPORARY on database "zitadel" to role "zitadel"',
        sql: 'GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "zitadel" TO "zitadel"',
      },
    ]);
  });

  it("does nothing when everything is in place", () => {
    const observed: ObservedPostgres = {
      role: ZITADEL_ROLE_ATTRIBUTES,
      database: { owner: "postgres", privileges: ["CONNECT", "CREATE", "TEMPORARY"] },
    };
    expect(planPostgresBootstrap(observed, DESIRED)).toEqual([]);
  });

  it("adopts an existing database: no CREATE, no REVOKE from PUBLIC, only the missing grants", () => {
    const observed: ObservedPostgres = {
      role: ZITADEL_ROLE_ATTRIBUTES,
      database: { owner: "app", privileges: ["CONNECT"] },
    };
    expect(planPostgresBootstrap(observed, DESIRED)).toEqual([
      {
        action: 'grant CREATE, TEMPORARY on database "zitadel" to role "zitadel"',
        sql: 'GRANT CREATE, TEMPORARY ON DATABASE "zitadel" TO "zitadel"',
      },
    ]);
  });

  it("takes a database the role owns as it is (the owner holds every privilege)", () => {
    const observed: ObservedPostgres = {
      role: ZITADEL_ROLE_ATTRIBUTES,
      database: { owner: "zitadel", privileges: ["CONNECT", "CREATE", "TEMPORARY"] },
    };
    expect(planPostgresBootstrap(observed, DESIRED)).toEqual([]);
  });

  it("takes away attributes an adopted role must not have, without touching its password", () => {
    const observed: ObservedPostgres = {
      role: { ...ZITADEL_ROLE_ATTRIBUTES, createdb: true, createrole: true },
      database: { owner: "postgres", privileges: ["CONNECT", "CREATE", "TEMPORARY"] },
    };
    expect(planPostgresBootstrap(observed, DESIRED)).toEqual([
      {
        action:
          'set the attributes of role "zitadel" to LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
        sql: 'ALTER ROLE "zitadel" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
      },
    ]);
  });

  it("never drops anything and never names the password in an action", () => {
    const steps = planPostgresBootstrap(
      { role: { ...ZITADEL_ROLE_ATTRIBUTES, login: false }, database: undefined },
      { ...DESIRED, password: "pässword" },
    );
    for (const step of steps) {
      expect(step.sql).not.toMatch(/\bDROP\b/);
      expect(step.action).not.toContain("pässword");
    }
  });

  it("quotes hostile names", () => {
    const steps = planPostgresBootstrap(
      { role: undefined, database: undefined },
      { ...DESIRED, database: 'db"; DROP DATABASE postgres; --', role: "r" },
    );
    expect(steps[1]?.sql).toBe('CREATE DATABASE "db""; DROP DATABASE postgres; --"');
  });
});

describe("passwordResetStep", () => {
  it("sets the verifier and says so without the password", () => {
    expect(passwordResetStep("zitadel", "s3cret", SALT)).toEqual({
      action: 'reset the password of role "zitadel"',
      sql: `ALTER ROLE "zitadel" WITH PASSWORD '${VERIFIER}'`,
    });
  });
});
