// The database step: how ZITADEL reaches its database, and, with spec.database.postgres.adminSecretRef, making
// sure its role and database exist with exactly the grants it needs (src/db/postgres-bootstrap.ts). The admin's
// credentials are used here, in the operator, and go nowhere else: ZITADEL's pods only get their own role's
// password. Bootstrap is idempotent; it runs again when anything it depends on changed, and at least every
// BOOTSTRAP_RECHECK_MS, so a role or grant removed by hand comes back.
import { createHash } from "node:crypto";
import type { CredentialsSecretRef } from "../../api/refs.ts";
import { bootstrapPostgres, type PostgresConnectionSettings } from "../../db/postgres-bootstrap.ts";
import type { ResolvedDatabase } from "../../render/zitadel/context.ts";
import { COMPONENT, childMeta, names } from "../../render/zitadel/meta.ts";
import { reconcileCockroachDatabase } from "./database-cockroach.ts";
import { ensureSecret, generatePassword, heldWithout } from "./secrets.ts";
import { type SecretObject, type StepContext, type StepFailure, secretValue, TYPES } from "./types.ts";

const BOOTSTRAP_RECHECK_MS = 10 * 60_000;
export const USERNAME_KEY = "username";
export const PASSWORD_KEY = "password";

export interface ResolvedDatabaseStep {
  readonly ok: true;
  readonly database: ResolvedDatabase;
  /** What bootstrap changed, in words; empty when nothing had to (or it was not run). */
  readonly actions: string[];
  /** What someone on call reads in the DatabaseReady condition. */
  readonly message: string;
}

/**
 * Successful bootstraps by Zitadel uid: a fingerprint of what was bootstrapped (a hash, never the values) and
 * when. One per controller: a restarted operator bootstraps again once, which changes nothing.
 */
export class BootstrapMemory {
  private readonly done = new Map<string, { fingerprint: string; at: number }>();

  isFresh(uid: string, fingerprint: string, now = Date.now()): boolean {
    const last = this.done.get(uid);
    return last !== undefined && last.fingerprint === fingerprint && now - last.at <= BOOTSTRAP_RECHECK_MS;
  }

  remember(uid: string, fingerprint: string, now = Date.now()): void {
    this.done.set(uid, { fingerprint, at: now });
  }

  forget(uid: string | undefined): void {
    if (uid !== undefined) this.done.delete(uid);
  }
}

export async function reconcileDatabase(
  step: StepContext,
  memory: BootstrapMemory,
): Promise<ResolvedDatabaseStep | StepFailure> {
  const { database } = step.zitadel.spec;
  if (database.postgres === undefined) return reconcileCockroachDatabase(step);
  const pg = database.postgres;

  let caPem: string | undefined;
  let tlsHash: string | undefined;
  if (pg.caSecretRef !== undefined) {
    const secret = await step.client.get<SecretObject>(TYPES.secret, step.namespace, pg.caSecretRef.name);
    caPem = secretValue(secret, pg.caSecretRef.key);
    if (caPem === undefined) {
      return missing(
        "CASecretNotFound",
        pg.caSecretRef.name,
        pg.caSecretRef.key,
        "spec.database.postgres.caSecretRef",
      );
    }
    tlsHash = sha256(caPem);
  }

  const user = await zitadelCredentials(step, pg.database);
  if (!user.ok) return user;

  if (pg.adminSecretRef === undefined) {
    return {
      ok: true,
      database: {
        kind: "postgres",
        username: user.username,
        password: user.password,
        ...(tlsHash ? { tlsHash } : {}),
      },
      actions: [],
      message: `ZITADEL connects to database "${pg.database}" at ${pg.host}:${pg.port} as role "${user.username}" (created by you: no adminSecretRef)`,
    };
  }

  const admin = await credentials(step, pg.adminSecretRef, "spec.database.postgres.adminSecretRef");
  if (!admin.ok) return admin;
  const settings: PostgresConnectionSettings = {
    host: pg.host,
    port: pg.port,
    user: admin.username,
    password: admin.password,
    sslMode: pg.sslMode,
    ...(caPem === undefined ? {} : { caPem }),
  };
  const uid = step.zitadel.metadata.uid ?? `${step.namespace}/${step.zitadel.metadata.name}`;
  const fingerprint = sha256(
    JSON.stringify([
      pg.host,
      pg.port,
      pg.sslMode,
      caPem ?? "",
      admin.username,
      admin.password,
      pg.database,
      user.username,
      user.password,
    ]),
  );
  let actions: string[] = [];
  if (!memory.isFresh(uid, fingerprint)) {
    const result = await bootstrapPostgres({
      admin: settings,
      database: pg.database,
      user: user.username,
      password: user.password,
    });
    if (!result.ok) {
      memory.forget(uid);
      return { ok: false, reason: result.reason, message: result.message };
    }
    memory.remember(uid, fingerprint);
    actions = result.actions;
    if (actions.length > 0) {
      await step.events.record(step.object, {
        type: "Normal",
        reason: "DatabaseBootstrapped",
        action: "BootstrapDatabase",
        note: `PostgreSQL at ${pg.host}:${pg.port}: ${actions.join("; ")}`,
      });
    }
  }
  return {
    ok: true,
    database: {
      kind: "postgres",
      username: user.username,
      password: user.password,
      ...(tlsHash ? { tlsHash } : {}),
    },
    actions,
    message: `database "${pg.database}" and role "${user.username}" exist at ${pg.host}:${pg.port} with CONNECT, CREATE and TEMPORARY on the database and no other privilege`,
  };
}

/**
 * ZITADEL's own role: spec.database.postgres.userSecretRef, or <name>-postgres-user, generated once. The role is
 * named after the database, so several ZITADELs can share a server; the default database gives role "zitadel".
 * No owner reference: the role outlives the Zitadel with its database (deletionPolicy), and so does its password.
 */
async function zitadelCredentials(
  step: StepContext,
  database: string,
): Promise<{ ok: true; username: string; password: string } | StepFailure> {
  const ref = step.zitadel.spec.database.postgres?.userSecretRef;
  if (ref !== undefined) return credentials(step, ref, "spec.database.postgres.userSecretRef");
  const name = names.postgresUserSecret(step.zitadel);
  const secret = await ensureSecret(
    step,
    name,
    () => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: childMeta(
        step.zitadel,
        { namespace: step.namespace },
        { name, component: COMPONENT.credentials, owned: false },
      ),
      type: "kubernetes.io/basic-auth",
      data: {
        [USERNAME_KEY]: Buffer.from(database).toString("base64"),
        [PASSWORD_KEY]: Buffer.from(generatePassword()).toString("base64"),
      },
    }),
    "the password of ZITADEL's PostgreSQL role",
  );
  if (secret === undefined && step.heldBy !== undefined) return heldWithout(step, name);
  const username = secretValue(secret, USERNAME_KEY);
  const password = secretValue(secret, PASSWORD_KEY);
  if (username === undefined || password === undefined) {
    return missing(
      "SecretInvalid",
      name,
      `${USERNAME_KEY}" and "${PASSWORD_KEY}`,
      "the generated credentials; delete it to have new ones made",
    );
  }
  return { ok: true, username, password };
}

/** A username and password from a user's Secret (not labelled by us, so read directly, not from the cache). */
async function credentials(
  step: StepContext,
  ref: CredentialsSecretRef,
  field: string,
): Promise<{ ok: true; username: string; password: string } | StepFailure> {
  const secret = await step.client.get<SecretObject>(TYPES.secret, step.namespace, ref.name);
  if (secret === undefined) {
    return { ok: false, reason: "SecretNotFound", message: `Secret ${ref.name} (${field}) does not exist` };
  }
  const username = secretValue(secret, ref.usernameKey);
  const password = secretValue(secret, ref.passwordKey);
  if (username === undefined || password === undefined) {
    return missing("SecretInvalid", ref.name, `${ref.usernameKey}" and "${ref.passwordKey}`, field);
  }
  return { ok: true, username, password };
}

function missing(reason: string, secret: string, key: string, field: string): StepFailure {
  return { ok: false, reason, message: `Secret ${secret} (${field}) needs the key(s) "${key}"` };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
