import { describe, expect, it } from "vitest";
import {
  createLogger,
  isSecretFieldName,
  type LogLevel,
  parseLogLevel,
  redactString,
} from "../../../src/runtime/log.ts";

const PEM_KEY =
  "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

function capture(level: LogLevel = "debug") {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const log = createLogger({
    level,
    now: () => new Date("2030-01-01T00:00:00Z"),
    write: (line) => {
      raw.push(line);
      lines.push(JSON.parse(line));
    },
  });
  return { log, lines, raw };
}

describe("structured logs", () => {
  it("writes one JSON object per line with time, level, message and fields", () => {
    const { log, raw } = capture();
    log.info("reconciled", { controller: "cockroachcluster", key: "db/main", generation: 3 });
    expect(raw).toEqual([
      '{"time":"2030-01-01T00:00:00.000Z","level":"info","msg":"reconciled","controller":"cockroachcluster","key":"db/main","generation":3}',
    ]);
  });

  it("drops lines below the level chosen at start", () => {
    const { log, lines } = capture("warn");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => l.level)).toEqual(["warn", "error"]);
    expect(log.level).toBe("warn");
  });

  it("binds fields in child loggers, the child's winning over the parent's", () => {
    const { log, lines } = capture();
    const child = log.with({ controller: "zitadel", key: "iam/zitadel" }).with({ commit: "abc123" });
    child.info("applied", { key: "iam/other" });
    log.info("parent untouched");
    expect(lines[0]).toMatchObject({ controller: "zitadel", key: "iam/other", commit: "abc123" });
    expect(lines[1]).not.toHaveProperty("controller");
  });

  it("keeps the envelope when a field is called time, level or msg", () => {
    const { log, lines } = capture();
    log.info("real message", { msg: "field", level: 7 });
    expect(lines[0]).toMatchObject({
      msg: "real message",
      level: "info",
      field_msg: "field",
      field_level: 7,
    });
  });

  it("writes errors with their name, message, code and cause", () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error("conflict", { cause: new Error("stale resourceVersion") }), {
      code: 409,
    });
    log.error("apply failed", { err });
    const written = lines[0]?.err as Record<string, unknown>;
    expect(written).toMatchObject({ name: "Error", message: "conflict", code: 409 });
    expect(written.cause).toMatchObject({ message: "stale resourceVersion" });
    expect(written.stack).toContain("conflict");
  });

  it("survives circular objects", () => {
    const { log, lines } = capture();
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    log.info("loop", { a });
    expect(lines[0]?.a).toEqual({ name: "a", self: "[circular]" });
  });
});

describe("redaction", () => {
  it.each([
    "password",
    "PASSWORD",
    "adminPassword",
    "db_password",
    "token",
    "bearerToken",
    "secret",
    "clientSecret",
    "privateKey",
    "private_key",
    "privateKeyPem",
    "masterkey",
    "masterKey",
    "credentials",
    "gitCredentials",
    "sshKey",
    "tls-key",
    "apiKey",
    "Authorization",
  ])("redacts a field named %s", (name) => {
    const { log, lines } = capture();
    log.info("x", { [name]: "hunter2" });
    expect(lines[0]?.[name]).toBe("[redacted]");
  });

  it.each([
    "key",
    "controller",
    "namespace",
    "secretName",
    "secretRef",
    "masterkeySecretRef",
    "credentialsSecretName",
    "generation",
  ])("keeps a field named %s", (name) => {
    expect(isSecretFieldName(name)).toBe(false);
  });

  it("redacts secret fields in nested objects and arrays", () => {
    const { log, lines } = capture();
    log.info("x", { spec: { users: [{ name: "root", password: "p" }], tls: { caKey: "k" } } });
    expect(lines[0]?.spec).toEqual({
      users: [{ name: "root", password: "[redacted]" }],
      tls: { caKey: "[redacted]" },
    });
  });

  it("says that a secret field is empty rather than hiding it", () => {
    const { log, lines } = capture();
    log.warn("no password set", { password: "" });
    expect(lines[0]?.password).toBe("");
  });

  it("redacts PEM blocks and age keys whatever the field is called", () => {
    const { log, lines } = capture();
    log.info("x", {
      key: PEM_KEY,
      data: { "tls.crt": `-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----` },
      identity: "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
    });
    expect(lines[0]).toMatchObject({
      key: "[redacted]",
      data: { "tls.crt": "[redacted]" },
      identity: "[redacted]",
    });
  });

  it("cuts user information out of URLs in any string, the message included", () => {
    const { log, lines } = capture();
    log.error("fetch https://git:ghp_abc@github.com/org/repo failed", {
      url: "https://oauth2:glpat-x@gitlab.example.com/group/repo.git",
      note: "dsn postgres://zitadel:s3cr3t@db:5432/zitadel?sslmode=verify-full",
      tokenOnly: undefined,
      plain: "https://github.com/org/repo",
    });
    expect(lines[0]).toMatchObject({
      msg: "fetch https://[redacted]@github.com/org/repo failed",
      url: "https://[redacted]@gitlab.example.com/group/repo.git",
      note: "dsn postgres://[redacted]@db:5432/zitadel?sslmode=verify-full",
      plain: "https://github.com/org/repo",
    });
    expect(redactString("https://ghp_token@github.com/x")).toBe("https://[redacted]@github.com/x");
  });

  it("redacts secrets inside error messages and stacks", () => {
    const { log, raw } = capture();
    log.error("clone failed", { err: new Error("could not read https://user:pa55@host/repo") });
    expect(raw[0]).not.toContain("pa55");
  });
});

describe("parseLogLevel", () => {
  it("accepts the four levels in any case and rejects anything else", () => {
    expect(parseLogLevel("DEBUG")).toBe("debug");
    expect(parseLogLevel(" warn ")).toBe("warn");
    expect(() => parseLogLevel("verbose")).toThrow(/debug, info, warn, error/);
  });
});
