// What deleting a Zitadel removes. By default the database, ZITADEL's role and its password Secret, and the
// masterkey Secret all stay: they have no owner reference, so Kubernetes' garbage collector leaves them, and a
// new Zitadel of the same name finds them and carries on with the same data. Everything else is owned and goes
// with the Zitadel. spec.deletionPolicy.database: Delete is the opt-in to drop the database and the role (on
// CockroachDB by a SQL Job: deletion-cockroach.ts): only then does the Zitadel carry our finalizer, which holds
// the deletion until they are gone. The masterkey is never deleted by the operator (spec.deletionPolicy's
// promise): without it a restored backup is unreadable.
import pg from "pg";
import type { Zitadel } from "../../api/zitadel.ts";
import { quoteIdent } from "../../db/postgres.ts";
import { names } from "../../render/zitadel/meta.ts";
import { addFinalizer, hasFinalizer, removeFinalizer } from "../../runtime/finalizers.ts";
import type { BootstrapMemory } from "./database.ts";
import { dropCockroach } from "./deletion-cockroach.ts";
import { type SecretObject, type StepContext, type StepFailure, secretValue, TYPES } from "./types.ts";

export function wantsDatabaseDeleted(zitadel: Zitadel): boolean {
  const { postgres, cockroach } = zitadel.spec.database;
  return (
    zitadel.spec.deletionPolicy.database === "Delete" &&
    (postgres?.adminSecretRef !== undefined || cockroach !== undefined)
  );
}

/** Adds our finalizer when deleting needs work of ours, removes it when it no longer does. */
export async function reconcileFinalizer(step: StepContext): Promise<void> {
  if (wantsDatabaseDeleted(step.zitadel)) await addFinalizer(step.client, step.object);
  else await removeFinalizer(step.client, step.object);
}

/**
 * The Zitadel is being deleted: drop the database and the role if the spec asks for it, then let it go.
 * Returns a failure (and keeps the finalizer) when the database cannot be reached, so nothing is left half-done.
 */
export async function finalizeZitadel(
  step: StepContext,
  memory: BootstrapMemory,
): Promise<StepFailure | undefined> {
  const { zitadel, object } = step;
  if (!hasFinalizer(object)) return undefined;
  if (wantsDatabaseDeleted(zitadel)) {
    const dropped = zitadel.spec.database.cockroach ? await dropCockroach(step) : await dropPostgres(step);
    if (dropped) return dropped;
  }
  memory.forget(zitadel.metadata.uid);
  await removeFinalizer(step.client, object);
  return undefined;
}

async function dropPostgres(step: StepContext): Promise<StepFailure | undefined> {
  const pgSpec = step.zitadel.spec.database.postgres;
  const adminRef = pgSpec?.adminSecretRef;
  if (pgSpec === undefined || adminRef === undefined) return undefined;
  const admin = await step.client.get<SecretObject>(TYPES.secret, step.namespace, adminRef.name);
  const adminUser = secretValue(admin, adminRef.usernameKey);
  const adminPassword = secretValue(admin, adminRef.passwordKey);
  if (adminUser === undefined || adminPassword === undefined) {
    return {
      ok: false,
      reason: "SecretNotFound",
      message: `cannot drop database "${pgSpec.database}": Secret ${adminRef.name} (adminSecretRef) is missing or incomplete; restore it or set deletionPolicy.database to Retain`,
    };
  }
  const userSecretName = pgSpec.userSecretRef?.name ?? names.postgresUserSecret(step.zitadel);
  const userSecret =
    step.cached<SecretObject>(TYPES.secret, userSecretName) ??
    (await step.client.get<SecretObject>(TYPES.secret, step.namespace, userSecretName));
  const role = secretValue(userSecret, pgSpec.userSecretRef?.usernameKey ?? "username");
  let caPem: string | undefined;
  if (pgSpec.caSecretRef !== undefined) {
    const ca = await step.client.get<SecretObject>(TYPES.secret, step.namespace, pgSpec.caSecretRef.name);
    caPem = secretValue(ca, pgSpec.caSecretRef.key);
  }
  const client = new pg.Client({
    host: pgSpec.host,
    port: pgSpec.port,
    user: adminUser,
    password: adminPassword,
    database: "postgres",
    ssl: sslOptions(pgSpec.sslMode, caPem),
    connectionTimeoutMillis: 10_000,
    application_name: "zitadel-operator",
  });
  client.on("error", () => undefined);
  const done: string[] = [];
  try {
    await client.connect();
    // FORCE ends ZITADEL's sessions (its pods may still be stopping); IF EXISTS makes a retry harmless.
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(pgSpec.database)} WITH (FORCE)`);
    done.push(`dropped database "${pgSpec.database}"`);
    if (role !== undefined) {
      await client.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
      done.push(`dropped role "${role}"`);
    }
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      reason: "DatabaseDeleteFailed",
      message: `deletionPolicy.database is Delete but PostgreSQL at ${pgSpec.host}:${pgSpec.port} refused: ${detail.replaceAll(adminPassword, "[redacted]")}${done.length ? ` (already ${done.join(", ")})` : ""}`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
  if (pgSpec.userSecretRef === undefined) {
    await step.client.delete(TYPES.secret, step.namespace, userSecretName);
    done.push(`deleted Secret ${userSecretName}`);
  }
  await step.events.record(step.object, {
    type: "Normal",
    reason: "DatabaseDeleted",
    action: "Delete",
    note: `deletionPolicy.database is Delete: ${done.join(", ")}; the masterkey Secret is kept`,
  });
  return undefined;
}

// libpq's sslmode as node's TLS options, as src/db/postgres-bootstrap.ts does.
function sslOptions(mode: string, caPem: string | undefined): pg.ClientConfig["ssl"] {
  if (mode === "disable") return false;
  if (mode === "require") return { rejectUnauthorized: false };
  const ca = caPem === undefined ? {} : { ca: caPem };
  if (mode === "verify-ca") return { ...ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...ca, rejectUnauthorized: true };
}
