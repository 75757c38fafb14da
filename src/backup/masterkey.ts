// The ZITADEL masterkey travels with every backup, encrypted to age recipients the user holds the identities of
// (README.md explains the choice). The store therefore never holds it in clear, the backup Job needs only public
// keys, and whoever restores needs the user's age identity, not the lost cluster's Secret.
//
// The manifest names the key by a key id: a keyed hash that tells two masterkeys apart without revealing either
// (a masterkey is 32 random characters, so its hash gives nothing away), so a restore can refuse to pair data
// with the wrong masterkey before ZITADEL starts and fails to decrypt its secrets.
import { createHmac } from "node:crypto";
import { Decrypter, Encrypter } from "age-encryption";
import {
  type BackupLocation,
  MASTERKEY_OBJECT,
  type Manifest,
  objectKey,
  type StoredObject,
} from "./manifest.ts";
import type { ObjectStore } from "./store.ts";

const KEY_ID_CONTEXT = "zitadel-operator masterkey id v1";

/** ZITADEL's masterkey is exactly 32 characters (zitadel start --masterkey). */
export const MASTERKEY_LENGTH = 32;

export function masterkeyKeyId(masterkey: string): string {
  return `hmac-sha256:${createHmac("sha256", KEY_ID_CONTEXT).update(masterkey, "utf8").digest("hex").slice(0, 32)}`;
}

export type MasterkeyProblem = { ok: false; reason: string; message: string };

/** Why a masterkey or recipient list cannot be used, without ever repeating the key. */
export function checkMasterkeyInputs(
  masterkey: string,
  recipients: readonly string[],
): { ok: true } | MasterkeyProblem {
  if (masterkey.length !== MASTERKEY_LENGTH)
    return {
      ok: false,
      reason: "InvalidMasterkey",
      message: `the masterkey has ${masterkey.length} characters; ZITADEL needs exactly ${MASTERKEY_LENGTH}`,
    };
  if (recipients.length === 0)
    return {
      ok: false,
      reason: "NoMasterkeyRecipient",
      message:
        "no age recipient to encrypt the masterkey to: a backup without its masterkey cannot be used, so it is not taken",
    };
  const bad = recipients.find((r) => !isAgeRecipient(r));
  if (bad !== undefined)
    return { ok: false, reason: "InvalidRecipient", message: `"${bad}" is not an age recipient (age1...)` };
  return { ok: true };
}

/** Whether age accepts `recipient` (X25519 "age1..." or a hybrid post-quantum one); age's parser decides. */
function isAgeRecipient(recipient: string): boolean {
  try {
    new Encrypter().addRecipient(recipient);
    return true;
  } catch {
    return false;
  }
}

export async function encryptMasterkey(
  masterkey: string,
  recipients: readonly string[],
): Promise<Uint8Array> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return encrypter.encrypt(masterkey);
}

/**
 * The masterkey from its encrypted copy, checked against the key id the manifest recorded. Fails when none of
 * the identities can decrypt it or when it is not the key the backup was taken with.
 */
export async function decryptMasterkey(
  encrypted: Uint8Array,
  identities: readonly string[],
  expectedKeyId: string,
): Promise<{ ok: true; masterkey: string } | MasterkeyProblem> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  let masterkey: string;
  try {
    masterkey = await decrypter.decrypt(encrypted, "text");
  } catch (err) {
    // age's messages name stanzas and never the key; still, say only what the user can act on.
    return {
      ok: false,
      reason: "MasterkeyNotDecrypted",
      message: `none of the given age identities can decrypt masterkey.age (${(err as Error).message})`,
    };
  }
  if (masterkeyKeyId(masterkey) !== expectedKeyId)
    return {
      ok: false,
      reason: "MasterkeyMismatch",
      message: "masterkey.age does not hold the masterkey the manifest names",
    };
  return { ok: true, masterkey };
}

/** Whether the masterkey a Zitadel uses now is the one the backup was taken with: then no decryption is needed. */
export function sameMasterkey(current: string, manifestKeyId: string): boolean {
  return masterkeyKeyId(current) === manifestKeyId;
}

/**
 * Encrypts the masterkey to its recipients and stores it as masterkey.age of the backup at `location`: what both
 * engines do before they write the manifest. Returns the object's size and sha256 and the manifest's masterkey entry.
 */
export async function storeMasterkey(
  store: ObjectStore,
  location: BackupLocation,
  masterkey: { readonly value: string; readonly recipients: readonly string[] },
): Promise<{ object: StoredObject; entry: NonNullable<Manifest["masterkey"]> }> {
  const encrypted = await encryptMasterkey(masterkey.value, masterkey.recipients);
  const put = await store.put(objectKey(location, MASTERKEY_OBJECT), encrypted);
  return {
    object: { size: put.size, sha256: put.sha256 },
    entry: {
      keyId: masterkeyKeyId(masterkey.value),
      recipients: [...masterkey.recipients],
      object: MASTERKEY_OBJECT,
    },
  };
}
