// Prepares a PostgreSQL server for ZITADEL with the admin's credentials: ZITADEL's login role and its database,
// with the grants of src/db/postgres.ts. The only place ZITADEL's PostgreSQL admin credentials are used: the
// operator runs this itself, so ZITADEL's pods (init, setup, start) only ever get the ZITADEL role's password.
//
// Idempotent: it reads the catalog, plans, and runs only what is missing, so a second run sends no statement that
// changes anything. A failure is returned as a condition-ready { reason, message } naming the cause; messages are
// built from names and server messages and are scrubbed of both passwords before they leave.
import { randomBytes } from "node:crypto";
import pg from "pg";
import {
  type BootstrapStep,
  databaseQuery,
  type ObservedPostgres,
  passwordResetStep,
  planPostgresBootstrap,
  type Query,
  type RoleAttributes,
  roleQuery,
} from "./postgres.ts";

export type PostgresSslMode = "disable" | "require" | "verify-ca" | "verify-full";

export interface PostgresConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Database to connect to; for the admin an existing one such as "postgres" (the default). */
  readonly database?: string;
  /** libpq's sslmode; verify-full by default. */
  readonly sslMode?: PostgresSslMode;
  /** PEM CA bundle for verify-ca and verify-full; the system's trust store when unset. */
  readonly caPem?: string;
  readonly connectTimeoutMs?: number;
}

export interface BootstrapPostgresParams {
  /** Credentials with CREATEROLE and CREATEDB (or a superuser), used for nothing else. */
  readonly admin: PostgresConnectionSettings;
  /** ZITADEL's database. */
  readonly database: string;
  /** ZITADEL's login role and its password. */
  readonly user: string;
  readonly password: string;
}

export type BootstrapPostgresResult =
  | {
      readonly ok: true /** What changed, in words; empty when nothing had to. */;
      readonly actions: string[];
    }
  | { readonly ok: false; readonly reason: string; readonly message: string };

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 30_000;

/** Creates or adopts ZITADEL's role and database. Never throws for server or network failures. */
export async function bootstrapPostgres(params: BootstrapPostgresParams): Promise<BootstrapPostgresResult> {
  const { admin, database, user, password } = params;
  const secrets = [admin.password, password];
  const where = `${admin.host}:${admin.port}`;
  const actions: string[] = [];
  let step = `connect to PostgreSQL at ${where} as admin user "${admin.user}"`;
  const client = newClient(admin);
  try {
    await client.connect();
    step = "read roles and databases";
    const observed = await observe(client, database, user);
    for (const planned of planPostgresBootstrap(observed, {
      database,
      role: user,
      password,
      salt: randomBytes(16),
    })) {
      step = planned.action;
      await run(client, planned);
      actions.push(planned.action);
    }

    // The role may have existed with another password: log in as ZITADEL will, and reset it if refused.
    const asUser = { ...admin, user, password, database };
    step = `log in as role "${user}" to database "${database}"`;
    let login = await tryLogin(asUser);
    if (login === "password-rejected" && observed.role !== undefined) {
      const reset = passwordResetStep(user, password, randomBytes(16));
      step = reset.action;
      await run(client, reset);
      actions.push(reset.action);
      step = `log in as role "${user}" to database "${database}" with the new password`;
      login = await tryLogin(asUser);
    }
    if (login !== "ok") {
      const error = login === "password-rejected" ? passwordRejected(user) : login;
      return failure(error, step, where, admin.user, secrets);
    }
    return { ok: true, actions };
  } catch (error) {
    return failure(error, step, where, admin.user, secrets);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function newClient(settings: PostgresConnectionSettings): pg.Client {
  const client = new pg.Client({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.database ?? "postgres",
    ssl: sslOptions(settings),
    connectionTimeoutMillis: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 5_000,
    application_name: "zitadel-operator",
  });
  // A connection that dies between queries emits 'error'; the next query reports it, so don't crash here.
  client.on("error", () => undefined);
  return client;
}

// libpq's sslmode in node's TLS options (https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION).
function sslOptions(settings: PostgresConnectionSettings): pg.ClientConfig["ssl"] {
  const mode = settings.sslMode ?? "verify-full";
  if (mode === "disable") return false;
  if (mode === "require") return { rejectUnauthorized: false };
  const ca = settings.caPem === undefined ? {} : { ca: settings.caPem };
  if (mode === "verify-ca") return { ...ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...ca, rejectUnauthorized: true };
}

async function query<Row>(client: pg.Client, q: Query): Promise<Row[]> {
  const result = await client.query({ text: q.text, values: [...q.values] });
  return result.rows as Row[];
}

async function observe(client: pg.Client, database: string, role: string): Promise<ObservedPostgres> {
  const [roleRow] = await query<RoleAttributes>(client, roleQuery(role));
  const [databaseRow] = await query<{ owner: string; privileges: string[] }>(
    client,
    databaseQuery(database, role),
  );
  return { role: roleRow, database: databaseRow };
}

async function run(client: pg.Client, step: BootstrapStep): Promise<void> {
  await client.query(step.sql);
}

type LoginOutcome = "ok" | "password-rejected" | Error;

async function tryLogin(settings: PostgresConnectionSettings): Promise<LoginOutcome> {
  const client = newClient(settings);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return "ok";
  } catch (error) {
    if (sqlState(error) === "28P01") return "password-rejected";
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    await client.end().catch(() => undefined);
  }
}

function passwordRejected(user: string): Error {
  return Object.assign(new Error(`password authentication failed for user "${user}"`), { code: "28P01" });
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

// Node's and PostgreSQL's error codes, turned into what someone on call needs to read.
function failure(
  error: unknown,
  step: string,
  where: string,
  adminUser: string,
  secrets: readonly string[],
): BootstrapPostgresResult {
  const { reason, message } = describe(error, step, where, adminUser);
  return { ok: false, reason, message: redact(message, secrets) };
}

function describe(error: unknown, step: string, where: string, adminUser: string) {
  const code = sqlState(error);
  const detail = error instanceof Error ? error.message : String(error);
  const loggingInAsUser = step.startsWith("log in as role");
  switch (code) {
    case "ECONNREFUSED":
      return {
        reason: "DatabaseUnreachable",
        message: `cannot reach PostgreSQL at ${where}: connection refused`,
      };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return {
        reason: "DatabaseUnreachable",
        message: `cannot reach PostgreSQL at ${where}: host name not found`,
      };
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ECONNRESET":
      return { reason: "DatabaseUnreachable", message: `cannot reach PostgreSQL at ${where}: ${detail}` };
    case "28P01":
      return loggingInAsUser
        ? { reason: "UserLoginFailed", message: `${step}: PostgreSQL at ${where} rejected the password` }
        : {
            reason: "AdminAuthenticationFailed",
            message: `PostgreSQL at ${where} rejected the password of admin user "${adminUser}"`,
          };
    case "28000":
      return loggingInAsUser
        ? { reason: "UserLoginFailed", message: `${step}: ${detail}` }
        : {
            reason: "AdminAuthenticationFailed",
            message: `PostgreSQL at ${where} refused admin user "${adminUser}": ${detail}`,
          };
    case "42501":
      return {
        reason: loggingInAsUser ? "UserLoginFailed" : "AdminPrivilegesMissing",
        message: loggingInAsUser
          ? `${step}: ${detail}`
          : `admin user "${adminUser}" lacks a privilege to ${step}: ${detail} (it needs CREATEROLE and CREATEDB, ` +
            "or ownership of an existing database)",
      };
    case "3D000":
      return { reason: "DatabaseNotFound", message: `${step}: ${detail}` };
  }
  if (/connection timeout|timeout expired/i.test(detail)) {
    return {
      reason: "DatabaseUnreachable",
      message: `cannot reach PostgreSQL at ${where}: connection timed out`,
    };
  }
  if (
    /SSL|TLS|certificate|self[- ]signed/i.test(detail) ||
    (code !== undefined && /CERT|TLS|SSL/.test(code))
  ) {
    return {
      reason: "DatabaseTLSFailed",
      message: `${step}: TLS with PostgreSQL at ${where} failed: ${detail}`,
    };
  }
  const state = code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? ` (SQLSTATE ${code})` : "";
  return { reason: "BootstrapFailed", message: `${step}: ${detail}${state}` };
}

function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) if (secret !== "") out = out.replaceAll(secret, "[redacted]");
  return out;
}
