// Restoring a backup taken with another masterkey. ZITADEL's data is only readable with the masterkey it was
// encrypted with, and every backup carries that key encrypted to the user's age recipients (masterkey.age; the
// manifest names it by a key id, src/backup/masterkey.ts). Before any data is touched, the Restore controller reads
// the manifest from the store itself and compares its key id with the Zitadel's current masterkey:
//
// - the same key (or a backup without one): nothing to do;
// - another key: planMasterkey decides. An in-place restore with overwrite of a Zitadel whose masterkey Secret the
//   operator generated may switch keys: the controller decrypts masterkey.age with spec.ageIdentitySecretRef and
//   stages the key in a Secret owned by the Restore (the restore Job's ZITADEL_MASTERKEY comes from it, so the
//   Job's own check passes). Once the data is restored, while the Zitadel is still held, swapMasterkey keeps the
//   old key in <zitadel>-masterkey-before-<restore> and puts the backup's key into the masterkey Secret; setup
//   and pods then start with it. A user's own Secret (spec.masterkeySecretRef) is never rewritten: such a restore
//   fails before anything happened and says how to put the key there. A restore under newDatabaseName leaves the
//   key alone: the running ZITADEL keeps its data and its key, and the status names the key the copy needs.
// - a PVC destination cannot be read from the operator's pod (and an S3 store may not answer it): then only the
//   Job checks, and only a backup taken with the current masterkey restores.
//
// No masterkey or identity ever goes into a message, an Event, the status or a log line: keys are named by id.
import type { Backup } from "../../api/backup.ts";
import type { Restore } from "../../api/restore.ts";
import type { Zitadel } from "../../api/zitadel.ts";
import {
  type ClosableStore,
  type StoreCredentials,
  storeForDestination,
} from "../../backup/destination-store.ts";
import {
  type BackupLocation,
  MANIFEST_OBJECT,
  MASTERKEY_OBJECT,
  objectKey,
  parseManifest,
} from "../../backup/manifest.ts";
import { decryptMasterkey, MASTERKEY_LENGTH, masterkeyKeyId } from "../../backup/masterkey.ts";
import { ObjectNotFoundError, readAll, readVerified } from "../../backup/store.ts";
import { COMPONENT, childMeta, names } from "../../render/zitadel/meta.ts";
import { MASTERKEY_KEY } from "../../render/zitadel/secrets.ts";
import { isConflict, type KubeClient, type KubeObject } from "../../runtime/kube.ts";
import type { Failure } from "../backup/controller.ts";
import { ownerReference } from "../backup/job.ts";

const SECRET = { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true };
type SecretObject = KubeObject & { data?: Record<string, string>; immutable?: boolean };

/** Annotations on the staged and the kept Secrets: key ids and names only, never a key. */
export const MASTERKEY_ANNOTATION = {
  keyId: "zitadel-operator.dev/masterkey-key-id",
  /** On the staged Secret: "true" when the Zitadel's masterkey Secret is to be replaced with it. */
  swap: "zitadel-operator.dev/masterkey-swap",
  restore: "zitadel-operator.dev/replaced-by-restore",
} as const;

export const PVC_NOTE =
  "the operator cannot read a PVC destination, so only a backup taken with the Zitadel's current masterkey " +
  "restores from it (the restore Job checks)";

export interface MasterkeyFacts {
  /** The key id the manifest records; undefined for a backup without a masterkey. */
  readonly backupKeyId: string | undefined;
  /** The key id of the Zitadel's current masterkey; undefined when its Secret or key is missing. */
  readonly currentKeyId: string | undefined;
  /** An in-place restore with overwrite: the Zitadel is held, so its key may change with its data. */
  readonly hold: boolean;
  /** The restore goes into the Zitadel's live database (without overwrite it only fills an empty one). */
  readonly inPlace: boolean;
  /** spec.masterkeySecretRef, when the user keeps the masterkey in a Secret of their own. */
  readonly userSecret: { name: string; key: string } | undefined;
  readonly identityGiven: boolean;
  /** Where the backup is, for messages (never a credential: a store description and a directory). */
  readonly where: string;
}

export type MasterkeyPlan =
  | { action: "proceed" }
  /** Decrypt masterkey.age with the identity and stage it; `swap`: replace the Zitadel's key after the restore. */
  | { action: "recover"; swap: boolean }
  | { action: "fail"; reason: string; message: string };

/** What a Restore does about the masterkey, from what the controller read (pure). */
export function planMasterkey(f: MasterkeyFacts): MasterkeyPlan {
  if (f.backupKeyId === undefined || f.backupKeyId === f.currentKeyId) return { action: "proceed" };
  const recover = `age -d -i key.txt ${f.where}${MASTERKEY_OBJECT}`;
  const mismatch = (message: string): MasterkeyPlan => ({
    action: "fail",
    reason: "MasterkeyMismatch",
    message: `nothing was restored: the backup was taken with masterkey ${f.backupKeyId}, not the Zitadel's current one; ${message}`,
  });
  if (f.hold && f.userSecret !== undefined)
    return mismatch(
      `the operator does not rewrite Secret ${f.userSecret.name} (spec.masterkeySecretRef): recover the key with ` +
        `\`${recover}\`, put it under key "${f.userSecret.key}" of that Secret, then create a new Restore`,
    );
  if (f.inPlace && !f.hold)
    return mismatch(
      "the masterkey can only change with an in-place restore with overwrite, which holds the Zitadel while its " +
        "data and key change; restore under target.newDatabaseName to inspect the backup instead",
    );
  if (!f.identityGiven)
    return mismatch(
      `set spec.ageIdentitySecretRef to a Secret holding the age identity that decrypts ${MASTERKEY_OBJECT} ` +
        `(by hand: \`${recover}\`)`,
    );
  return { action: "recover", swap: f.hold };
}

export type Check =
  | { proceed: true; note?: string }
  | { recovered: { masterkey: string; keyId: string; swap: boolean } }
  | { wait: Failure }
  | { failure: Failure };

/** Everything planMasterkey needs, read from the cluster and the store; decrypts when it says so. */
export async function checkMasterkey(
  client: KubeClient,
  args: {
    restore: Restore;
    zitadel: Zitadel;
    namespace: string;
    destination: Backup["spec"]["destination"];
    location: BackupLocation;
    hold: boolean;
    inPlace: boolean;
  },
): Promise<Check> {
  const { destination, location, namespace } = args;
  if (destination.pvc !== undefined) return { proceed: true, note: PVC_NOTE };
  if (destination.s3 === undefined && destination.gcs === undefined) return { proceed: true };
  const store = await storeFor(client, destination, namespace);
  if ("failure" in store) return { wait: store.failure };
  const where = `${store.store.description}${objectKey(location, "")}`;
  try {
    let text: string;
    try {
      text = (await readAll(await store.store.get(objectKey(location, MANIFEST_OBJECT)))).toString("utf8");
    } catch (err) {
      if (err instanceof ObjectNotFoundError)
        return {
          failure: {
            reason: "BackupNotFound",
            message: `${where}${MANIFEST_OBJECT} does not exist: no complete backup is there`,
          },
        };
      throw err;
    }
    const parsed = parseManifest(text);
    if (!parsed.ok) return { failure: { reason: "ManifestInvalid", message: parsed.message } };
    const manifest = parsed.manifest;

    const ref = args.zitadel.spec.masterkeySecretRef ?? {
      name: names.masterkeySecret(args.zitadel),
      key: MASTERKEY_KEY,
    };
    const current = value(await client.get<SecretObject>(SECRET, namespace, ref.name), ref.key);
    const identityRef = args.restore.spec.ageIdentitySecretRef;
    const plan = planMasterkey({
      backupKeyId: manifest.masterkey?.keyId,
      currentKeyId: current === undefined ? undefined : masterkeyKeyId(current),
      hold: args.hold,
      inPlace: args.inPlace,
      userSecret: args.zitadel.spec.masterkeySecretRef,
      identityGiven: identityRef !== undefined,
      where,
    });
    if (plan.action === "proceed") return { proceed: true };
    if (plan.action === "fail") return { failure: { reason: plan.reason, message: plan.message } };

    const entry = manifest.objects[MASTERKEY_OBJECT];
    const keyId = manifest.masterkey?.keyId ?? "";
    if (entry === undefined || identityRef === undefined)
      return {
        failure: { reason: "ManifestInvalid", message: `the manifest does not list ${MASTERKEY_OBJECT}` },
      };
    const identity = value(
      await client.get<SecretObject>(SECRET, namespace, identityRef.name),
      identityRef.key,
    );
    if (identity === undefined)
      return {
        wait: {
          reason: "SecretNotFound",
          message: `Secret ${identityRef.name} with key "${identityRef.key}" (spec.ageIdentitySecretRef) does not exist (yet)`,
        },
      };
    const encrypted = await readAll(
      await readVerified(store.store, objectKey(location, MASTERKEY_OBJECT), entry),
    );
    const decrypted = await decryptMasterkey(encrypted, identity.split(/\s+/).filter(Boolean), keyId);
    if (!decrypted.ok)
      return {
        failure: {
          reason: decrypted.reason,
          message: `nothing was restored: ${decrypted.message} (spec.ageIdentitySecretRef: Secret ${identityRef.name})`,
        },
      };
    if (decrypted.masterkey.length !== MASTERKEY_LENGTH)
      return {
        failure: {
          reason: "MasterkeyInvalid",
          message: `nothing was restored: the masterkey in ${MASTERKEY_OBJECT} is not ${MASTERKEY_LENGTH} characters long`,
        },
      };
    return { recovered: { masterkey: decrypted.masterkey, keyId, swap: plan.swap } };
  } catch (err) {
    const why = `reading ${where}${MANIFEST_OBJECT}: ${err instanceof Error ? err.message : String(err)}`;
    // Without an identity no other key could be recovered anyway: go on and let the restore Job check the key
    // (it fails with MasterkeyMismatch before touching the database, and it may reach a store we cannot). With
    // one, the user asked for a key change that needs this read: wait for the store rather than lose it.
    if (args.restore.spec.ageIdentitySecretRef === undefined)
      return {
        proceed: true,
        note: `the operator could not read the manifest, so the restore Job checks the masterkey (${why})`,
      };
    return { wait: { reason: "StoreUnreachable", message: why } };
  } finally {
    store.store.close();
  }
}

/**
 * The object store of a destination (storeForDestination, as the Jobs build theirs), with the credentials of its
 * Secret read for this one use, as src/controllers/backup/files.ts does.
 */
async function storeFor(
  client: KubeClient,
  destination: Backup["spec"]["destination"],
  namespace: string,
): Promise<{ store: ClosableStore } | { failure: Failure }> {
  const { s3, gcs } = destination;
  const gone = (name: string) => ({
    failure: {
      reason: "SecretNotFound",
      message: `Secret ${name} with the store's credentials does not exist (yet)`,
    },
  });
  let credentials: StoreCredentials = {};
  if (s3?.credentialsSecretRef !== undefined) {
    const ref = s3.credentialsSecretRef;
    const secret = await client.get<SecretObject>(SECRET, namespace, ref.name);
    const accessKeyId = value(secret, ref.accessKeyIDKey);
    const secretAccessKey = value(secret, ref.secretAccessKeyKey);
    if (accessKeyId === undefined || secretAccessKey === undefined) return gone(ref.name);
    credentials = { s3: { accessKeyId, secretAccessKey } };
  }
  if (gcs?.credentialsSecretRef !== undefined) {
    const ref = gcs.credentialsSecretRef;
    const json = value(await client.get<SecretObject>(SECRET, namespace, ref.name), ref.key);
    if (json === undefined) return gone(ref.name);
    credentials = { gcsCredentialsJson: json };
  }
  return { store: storeForDestination({ ...(s3 ? { s3 } : {}), ...(gcs ? { gcs } : {}) }, credentials) };
}

function value(secret: SecretObject | undefined, key: string): string | undefined {
  const encoded = secret?.data?.[key];
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
}

/** The Secret holding a recovered masterkey for one Restore: named after it, owned by it, deleted at its end. */
export function stagedSecretName(restore: KubeObject): string {
  const uid = (restore.metadata?.uid ?? "").replace(/-/g, "").slice(0, 8);
  return `${restore.metadata?.name}-masterkey-${uid}`;
}

export async function stageMasterkey(
  client: KubeClient,
  restore: KubeObject,
  recovered: { masterkey: string; keyId: string; swap: boolean },
): Promise<void> {
  try {
    await client.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: stagedSecretName(restore),
        namespace: restore.metadata?.namespace,
        labels: {
          "app.kubernetes.io/managed-by": "zitadel-operator",
          "app.kubernetes.io/component": "restore",
        },
        annotations: {
          [MASTERKEY_ANNOTATION.keyId]: recovered.keyId,
          [MASTERKEY_ANNOTATION.swap]: String(recovered.swap),
        },
        ownerReferences: [ownerReference(restore)],
      },
      type: "Opaque",
      immutable: true,
      data: { [MASTERKEY_KEY]: Buffer.from(recovered.masterkey).toString("base64") },
    });
  } catch (err) {
    // Staged by an earlier attempt of this Restore: the same backup, so the same key.
    if (!isConflict(err)) throw err;
  }
}

export async function stagedMasterkey(client: KubeClient, restore: KubeObject) {
  const secret = await client.get<SecretObject>(
    SECRET,
    restore.metadata?.namespace,
    stagedSecretName(restore),
  );
  if (secret === undefined) return undefined;
  return {
    name: stagedSecretName(restore),
    keyId: secret.metadata?.annotations?.[MASTERKEY_ANNOTATION.keyId] ?? "",
    swap: secret.metadata?.annotations?.[MASTERKEY_ANNOTATION.swap] === "true",
    secret,
  };
}

/** Deletes the staged Secret (its owner reference would take it with the Restore; it should not live that long). */
export async function unstageMasterkey(client: KubeClient, restore: KubeObject): Promise<void> {
  await client.delete(SECRET, restore.metadata?.namespace, stagedSecretName(restore));
}

export const keptSecretName = (zitadel: Zitadel, restore: string) =>
  `${names.masterkeySecret(zitadel)}-before-${restore}`;

export type Swap = { replaced: false } | { replaced: true; kept: string | undefined } | { failure: Failure };

/**
 * Puts the staged key into the Zitadel's operator-generated masterkey Secret, keeping the old key first in
 * <zitadel>-masterkey-before-<restore> (no owner: the operator never deletes it). Safe to repeat: once the
 * masterkey Secret holds the staged key, nothing is done. The Zitadel must be held, so its controller does not
 * generate a key while the Secret is gone.
 */
export async function swapMasterkey(
  client: KubeClient,
  zitadel: Zitadel,
  namespace: string,
  restore: string,
  staged: SecretObject,
): Promise<Swap> {
  const name = names.masterkeySecret(zitadel);
  const recovered = staged.data?.[MASTERKEY_KEY];
  if (recovered === undefined)
    return {
      failure: { reason: "MasterkeyInvalid", message: `the staged Secret has no key "${MASTERKEY_KEY}"` },
    };
  const current = await client.get<SecretObject>(SECRET, namespace, name);
  const currentValue = value(current, MASTERKEY_KEY);
  const recoveredId = masterkeyKeyId(Buffer.from(recovered, "base64").toString("utf8"));
  if (currentValue !== undefined && masterkeyKeyId(currentValue) === recoveredId) return { replaced: false };

  let kept: string | undefined;
  if (current !== undefined && currentValue !== undefined) {
    kept = keptSecretName(zitadel, restore);
    const currentId = masterkeyKeyId(currentValue);
    let before = await client.get<SecretObject>(SECRET, namespace, kept);
    if (before === undefined) {
      try {
        before = await client.create<SecretObject>({
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            ...childMeta(
              zitadel,
              { namespace },
              { name: kept, component: COMPONENT.credentials, owned: false },
            ),
            annotations: { [MASTERKEY_ANNOTATION.keyId]: currentId, [MASTERKEY_ANNOTATION.restore]: restore },
          },
          type: "Opaque",
          immutable: true,
          data: { [MASTERKEY_KEY]: current.data?.[MASTERKEY_KEY] ?? "" },
        });
      } catch (err) {
        if (!isConflict(err)) throw err;
        before = await client.get<SecretObject>(SECRET, namespace, kept);
      }
    }
    const keptValue = value(before, MASTERKEY_KEY);
    if (keptValue === undefined || masterkeyKeyId(keptValue) !== currentId)
      // Never drop a key that is not safely kept somewhere.
      return {
        failure: {
          reason: "MasterkeyNotKept",
          message: `Secret ${kept} exists but does not hold the current masterkey; the masterkey was not replaced`,
        },
      };
    // The masterkey Secret is immutable, so it cannot be updated: it is deleted and created again. The uid
    // precondition deletes exactly the Secret whose key was just kept, never one created in between.
    await client.delete(SECRET, namespace, name, {
      ...(current.metadata?.uid ? { uid: current.metadata.uid } : {}),
    });
  }
  // Created, not applied: a Secret that exists already is not ours to overwrite (the next pass compares it).
  try {
    await client.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        ...childMeta(zitadel, { namespace }, { name, component: COMPONENT.credentials, owned: false }),
        annotations: { [MASTERKEY_ANNOTATION.keyId]: recoveredId, [MASTERKEY_ANNOTATION.restore]: restore },
      },
      type: "Opaque",
      immutable: true,
      data: { [MASTERKEY_KEY]: recovered },
    });
  } catch (err) {
    if (!isConflict(err)) throw err;
    return {
      failure: {
        reason: "MasterkeyRecreated",
        message: `Secret ${name} was created by someone else meanwhile`,
      },
    };
  }
  return { replaced: true, kept };
}
