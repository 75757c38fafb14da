// Values the operator generates for a Zitadel: the masterkey, the first admin's password and the login UI's key
// (ZITADEL's database password is in database.ts). Each is generated once and stored in a Secret; every later
// reconcile reads it back and never generates again. Generated Secrets are made with create, not apply: if one
// exists already (a cache that lags behind, a second operator) the create fails and we read what is there, so
// a value that anything may already use is never replaced.
import { createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { loginWanted } from "../../render/zitadel/config.ts";
import type { ZitadelRenderContext } from "../../render/zitadel/context.ts";
import { names } from "../../render/zitadel/meta.ts";
import {
  INITIAL_ADMIN_PASSWORD_KEY,
  LOGIN_PRIVATE_KEY_KEY,
  masterkeySecretRef,
  renderInitialAdminSecret,
  renderLoginKeySecret,
  renderMasterkeySecret,
} from "../../render/zitadel/secrets.ts";
import { isConflict, type KubeObject } from "../../runtime/kube.ts";
import { type SecretObject, type StepContext, type StepFailure, secretValue, TYPES } from "./types.ts";

const MASTERKEY_LENGTH = 32;

export interface GeneratedValues {
  readonly ok: true;
  readonly masterkeySecretName: string;
  readonly initialAdminPassword: string;
  readonly loginKey?: { publicKeyPem: string; privateKeyPem: string };
}

/** A password of letters and digits: safe in YAML, URLs and SQL literals, 190 bits from 32 characters. */
export function generatePassword(length = 32): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 248 = 4 × 62: bytes at or above it are skipped, so every character is equally likely.
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += alphabet[byte % 62];
    }
  }
  return out;
}

/**
 * The Secret `name`: from the cache, else created from `build()`; when it turns out to exist already, what is
 * there. `build` runs only when a value has to be generated. While a Restore holds the Zitadel nothing is
 * generated (undefined: see heldWithout): the Restore may be between deleting the masterkey Secret and creating
 * it with the backup's key, and a key generated in that gap would pair the restored data with the wrong one.
 */
export async function ensureSecret(
  step: StepContext,
  name: string,
  build: () => KubeObject,
  what: string,
): Promise<SecretObject | undefined> {
  const cached = step.cached<SecretObject>(TYPES.secret, name);
  if (cached) return cached;
  // Not ours (a masterkey restored from a backup carries none of our labels), or the cache lags: ask first, so
  // adopting a Secret costs a read per reconcile, not a refused write.
  const existing = await step.client.get<SecretObject>(TYPES.secret, step.namespace, name);
  if (existing) return existing;
  if (step.heldBy !== undefined) return undefined;
  try {
    const created = await step.client.create<SecretObject>(build());
    await step.events.record(step.object, {
      type: "Normal",
      reason: "SecretCreated",
      action: "GenerateSecret",
      note: `generated ${what} into Secret ${name}`,
    });
    return created;
  } catch (error) {
    if (!isConflict(error)) throw error;
    return step.client.get<SecretObject>(TYPES.secret, step.namespace, name);
  }
}

/** Why a Secret is missing while a Restore holds the Zitadel: it waits rather than generating one. */
export function heldWithout(step: StepContext, name: string): StepFailure {
  return {
    ok: false,
    reason: "HeldByRestore",
    message: `Secret ${name} does not exist; while Restore ${step.heldBy} holds this Zitadel no Secret is generated`,
    requeueAfterMs: 5_000,
  };
}

/**
 * The masterkey, the initial admin password and the login key. `ctx` is only used for the Secrets' metadata.
 * The masterkey is never read into memory beyond checking it: the pods take it from the Secret directly.
 */
export async function reconcileGeneratedSecrets(
  step: StepContext,
  ctx: ZitadelRenderContext,
): Promise<GeneratedValues | StepFailure> {
  const { zitadel } = step;
  const ref = masterkeySecretRef(zitadel);

  if (zitadel.spec.masterkeySecretRef === undefined) {
    // Immutable and without an owner reference (render/zitadel/secrets.ts): it outlives the Zitadel.
    const masterkey = await ensureSecret(
      step,
      ref.name,
      () => renderMasterkeySecret(zitadel, ctx, randomBytes(MASTERKEY_LENGTH)),
      "a 32-character masterkey",
    );
    if (masterkey === undefined && step.heldBy !== undefined) return heldWithout(step, ref.name);
  } else {
    // The user's own Secret carries none of our labels, so it is not in the cache.
    const secret = await step.client.get<SecretObject>(TYPES.secret, step.namespace, ref.name);
    const failure = checkMasterkey(secret, ref);
    if (failure) return failure;
  }

  const admin = await ensureSecret(
    step,
    names.initialAdminSecret(zitadel),
    () => renderInitialAdminSecret(zitadel, ctx, generatePassword()),
    "the first admin's initial password",
  );
  if (admin === undefined && step.heldBy !== undefined)
    return heldWithout(step, names.initialAdminSecret(zitadel));
  const initialAdminPassword = secretValue(admin, INITIAL_ADMIN_PASSWORD_KEY);
  if (initialAdminPassword === undefined) {
    return {
      ok: false,
      reason: "SecretInvalid",
      message: `Secret ${names.initialAdminSecret(zitadel)} has no key "${INITIAL_ADMIN_PASSWORD_KEY}"; delete it to have a new password generated`,
    };
  }

  let loginKey: GeneratedValues["loginKey"];
  if (loginWanted(zitadel.spec)) {
    const secret = await ensureSecret(
      step,
      names.loginKeySecret(zitadel),
      () => renderLoginKeySecret(zitadel, ctx, newSystemUserKey()),
      "the login UI's system user key",
    );
    if (secret === undefined && step.heldBy !== undefined)
      return heldWithout(step, names.loginKeySecret(zitadel));
    const encoded = secretValue(secret, LOGIN_PRIVATE_KEY_KEY);
    if (encoded === undefined) {
      return {
        ok: false,
        reason: "SecretInvalid",
        message: `Secret ${names.loginKeySecret(zitadel)} has no key "${LOGIN_PRIVATE_KEY_KEY}"`,
      };
    }
    const privateKeyPem = Buffer.from(encoded, "base64").toString("utf8");
    const publicKeyPem = createPublicKey(privateKeyPem).export({ type: "spki", format: "pem" }).toString();
    loginKey = { publicKeyPem, privateKeyPem };
  }
  return { ok: true, masterkeySecretName: ref.name, initialAdminPassword, ...(loginKey ? { loginKey } : {}) };
}

function checkMasterkey(
  secret: SecretObject | undefined,
  ref: { name: string; key: string },
): StepFailure | undefined {
  if (secret === undefined) {
    return {
      ok: false,
      reason: "MasterkeySecretNotFound",
      message: `Secret ${ref.name} (spec.masterkeySecretRef) does not exist`,
    };
  }
  const value = secretValue(secret, ref.key);
  if (value === undefined || value.length !== MASTERKEY_LENGTH) {
    // The length only, never the value.
    return {
      ok: false,
      reason: "MasterkeyInvalid",
      message: `key "${ref.key}" of Secret ${ref.name} must hold exactly ${MASTERKEY_LENGTH} characters${value === undefined ? "; the key is missing" : `; it holds ${value.length}`}`,
    };
  }
  return undefined;
}

function newSystemUserKey() {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}
