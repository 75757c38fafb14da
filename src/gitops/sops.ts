// SOPS files whose data key is encrypted to age recipients: the format Flux users already keep in Git.
//
// The format, as read from getsops/sops (v3.10): one random 32-byte data key per file; every leaf value is
// replaced by `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<str|int|float|bool|...>]`, sealed with the data
// key and a 32-byte nonce, the additional data being the map keys on the way to the leaf joined with ":" plus a
// trailing ":" (list positions are not part of it) (aes/cipher.go, sops.go walkBranch). The MAC is the upper-case
// hex SHA-512 over the plaintext of every value in document order (comments excluded), sealed the same way with
// the `lastmodified` timestamp as additional data (sops.go Tree.Encrypt, cmd/sops/common). The data key itself is
// an ASCII-armored age file, one per recipient, under `sops.age[].enc` (age/keysource.go). Multi-document YAML
// shares one data key and one MAC, with the `sops` block repeated in each document (stores/yaml).
//
// Nothing decrypted is returned before the MAC over the whole file matches: a changed, removed, reordered or
// re-encrypted value is refused. Errors name the file and the key path, never a value or a key.

import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { armor, Decrypter, Encrypter } from "age-encryption";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  Scalar,
  stringify,
  visit,
  type Node as YamlNode,
} from "yaml";

/** The sops release whose format this file was checked against, written into files we encrypt. */
export const SOPS_FORMAT_VERSION = "3.10.2";

/** Flux's advice for Kubernetes manifests: encrypt only Secret data, keep kind and metadata readable in review. */
export const KUBERNETES_ENCRYPTED_REGEX = "^(data|stringData)$";

const NONCE_BYTES = 32;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;
const ENCRYPTED_VALUE = /^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$/;
// sops.go MACOnlyEncryptedInitialization: a MAC over only encrypted values never equals one over all values.
const MAC_ONLY_ENCRYPTED_PREFIX = Buffer.from(
  "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69",
  "hex",
);

/** A SOPS file that cannot be decrypted or encrypted; the message names the file and never a secret. */
export class SopsError extends Error {
  override name = "SopsError";
}

/** Which leaves a file encrypts, from its `sops` block (the comment regexes are not supported). */
interface EncryptionRules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: RegExp;
  encryptedRegex?: RegExp;
  macOnlyEncrypted: boolean;
}

interface AgeStanza {
  recipient: string;
  enc: string;
}

/** True for a parsed document that carries a `sops` metadata block. */
export function isSopsDocument(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "sops" in value;
}

/** The `AGE-SECRET-KEY-1...` lines of an age identity file (as age-keygen writes it; comments are skipped). */
export function parseAgeIdentities(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.startsWith("AGE-SECRET-KEY-"));
}

export interface DecryptOptions {
  /** age identities (`AGE-SECRET-KEY-1...`); any one that opens a stanza will do. */
  identities: readonly string[];
  /** Named in errors. */
  file: string;
}

/**
 * Decrypts every document of a SOPS file (YAML or JSON) and returns them as plain values, without the `sops`
 * block, only after the file's MAC has been checked.
 */
export async function decryptSopsFile(text: string, options: DecryptOptions): Promise<unknown[]> {
  const { file } = options;
  const documents = parseDocuments(text, file);
  const first = documents[0];
  if (first === undefined) throw new SopsError(`${file}: no documents`);
  const metadata = readMetadata(first, file);
  const dataKey = await openDataKey(metadata.age, options.identities, file);
  const rules = metadata.rules;

  const hash = createHash("sha512");
  if (rules.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
  const plain: unknown[] = [];
  for (const doc of documents) {
    if (!isMap(doc.contents)) throw new SopsError(`${file}: a SOPS document must be a mapping`);
    const out: Record<string, unknown> = {};
    for (const pair of doc.contents.items) {
      const key = keyName(pair.key);
      if (key === "sops") continue;
      out[key] = walkDecrypt(doc, pair.value as YamlNode | null, [key], { dataKey, rules, hash, file });
    }
    plain.push(out);
  }

  const computed = hash.digest("hex").toUpperCase();
  let stored: string;
  try {
    stored = String(
      openValue(metadata.mac, dataKey, normalizeTimestamp(metadata.lastModified, file)).plaintext,
    );
  } catch {
    throw new SopsError(
      `${file}: the SOPS MAC cannot be decrypted: the file was tampered with or is corrupt`,
    );
  }
  const a = Buffer.from(computed);
  const b = Buffer.from(stored);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new SopsError(`${file}: the SOPS MAC does not match: the file was changed after it was encrypted`);
  }
  return plain;
}

export interface EncryptOptions {
  /** age recipients (`age1...`) that can decrypt the file. */
  recipients: readonly string[];
  /** Encrypt only leaves under a key matching this (sops --encrypted-regex); everything when unset. */
  encryptedRegex?: string;
  /** Named in errors. */
  file?: string;
  /** For reproducible tests. */
  now?: Date;
}

/**
 * Encrypts plaintext YAML or JSON (one or more documents) into a SOPS YAML file that `sops --decrypt` opens.
 * Comments are dropped rather than encrypted: a comment may hold a secret, and nothing needs them.
 */
export async function encryptSopsFile(text: string, options: EncryptOptions): Promise<string> {
  const file = options.file ?? "<input>";
  if (options.recipients.length === 0) throw new SopsError("at least one age recipient is needed");
  const documents = parseDocuments(text, file);
  if (documents.length === 0) throw new SopsError(`${file}: no documents to encrypt`);
  const rules: EncryptionRules =
    options.encryptedRegex === undefined
      ? { unencryptedSuffix: "_unencrypted", macOnlyEncrypted: false }
      : { encryptedRegex: compileRegex(options.encryptedRegex, file), macOnlyEncrypted: false };

  const dataKey = randomBytes(DATA_KEY_BYTES);
  const hash = createHash("sha512");
  for (const doc of documents) {
    if (!isMap(doc.contents)) throw new SopsError(`${file}: each document must be a mapping`);
    if (doc.contents.has("sops")) throw new SopsError(`${file}: already encrypted (it has a sops block)`);
    stripComments(doc);
    for (const pair of doc.contents.items) {
      walkEncrypt(doc, pair.value as YamlNode | null, [keyName(pair.key)], { dataKey, rules, hash, file });
    }
  }

  const lastModified = formatTimestamp(options.now ?? new Date());
  const age: AgeStanza[] = [];
  for (const recipient of options.recipients) {
    const encrypter = new Encrypter();
    try {
      encrypter.addRecipient(recipient);
    } catch {
      throw new SopsError(`not an age recipient: ${JSON.stringify(recipient)}`);
    }
    age.push({ recipient, enc: armor.encode(await encrypter.encrypt(dataKey)) });
  }
  const metadata: Record<string, unknown> = {
    age,
    lastmodified: lastModified,
    mac: sealValue(hash.digest("hex").toUpperCase(), dataKey, lastModified),
  };
  if (options.encryptedRegex !== undefined) metadata.encrypted_regex = options.encryptedRegex;
  else metadata.unencrypted_suffix = "_unencrypted";
  metadata.version = SOPS_FORMAT_VERSION;

  return documents
    .map((doc, index) => {
      (doc.contents as { set(key: unknown, value: unknown): void }).set("sops", doc.createNode(metadata));
      // Exactly one "---" between documents, whatever markers the input had.
      if (doc.directives) doc.directives.docStart = index > 0 ? true : null;
      return doc.toString({ lineWidth: 0 });
    })
    .join("");
}

// ---------------------------------------------------------------------------------------------------------------

function parseDocuments(text: string, file: string): Document[] {
  const parsed = parseAllDocuments(text, { uniqueKeys: true });
  const documents = Array.isArray(parsed) ? parsed : [];
  const out: Document[] = [];
  for (const doc of documents) {
    const error = doc.errors[0];
    if (error) throw new SopsError(`${file}: invalid YAML: ${error.message.split("\n")[0]}`);
    // A trailing "---" is an empty document, not one more branch.
    if (doc.contents === null) continue;
    out.push(doc);
  }
  return out;
}

function keyName(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function compileRegex(source: string, file: string): RegExp {
  try {
    return new RegExp(source);
  } catch {
    throw new SopsError(`${file}: invalid regular expression in the sops block: ${source}`);
  }
}

function readMetadata(
  doc: Document,
  file: string,
): { age: AgeStanza[]; lastModified: string; mac: string; rules: EncryptionRules } {
  const sops = (doc.toJS() as Record<string, unknown> | null)?.sops;
  if (typeof sops !== "object" || sops === null) throw new SopsError(`${file}: no sops metadata block`);
  const m = sops as Record<string, unknown>;
  for (const unsupported of ["unencrypted_comment_regex", "encrypted_comment_regex"]) {
    if (m[unsupported]) throw new SopsError(`${file}: sops.${unsupported} is not supported`);
  }
  let stanzas = m.age;
  if (Array.isArray(m.key_groups) && m.key_groups.length > 0) {
    // Several key groups split the data key with Shamir's scheme; one group is just a list of keys.
    if (m.key_groups.length > 1) throw new SopsError(`${file}: SOPS key groups (Shamir) are not supported`);
    stanzas = (m.key_groups[0] as Record<string, unknown>).age;
  }
  const age = (Array.isArray(stanzas) ? stanzas : []).filter(
    (s): s is AgeStanza =>
      typeof s === "object" && s !== null && typeof s.recipient === "string" && typeof s.enc === "string",
  );
  if (age.length === 0) {
    throw new SopsError(
      `${file}: the data key is not encrypted to any age recipient (only age is supported)`,
    );
  }
  if (typeof m.lastmodified !== "string" || typeof m.mac !== "string" || m.mac === "") {
    throw new SopsError(`${file}: the sops block has no lastmodified or mac`);
  }
  const text = (name: string) => (typeof m[name] === "string" && m[name] !== "" ? m[name] : undefined);
  const rules: EncryptionRules = { macOnlyEncrypted: m.mac_only_encrypted === true };
  const unencryptedSuffix = text("unencrypted_suffix");
  const encryptedSuffix = text("encrypted_suffix");
  const unencryptedRegex = text("unencrypted_regex");
  const encryptedRegex = text("encrypted_regex");
  if (unencryptedSuffix !== undefined) rules.unencryptedSuffix = unencryptedSuffix;
  if (encryptedSuffix !== undefined) rules.encryptedSuffix = encryptedSuffix;
  if (unencryptedRegex !== undefined) rules.unencryptedRegex = compileRegex(unencryptedRegex, file);
  if (encryptedRegex !== undefined) rules.encryptedRegex = compileRegex(encryptedRegex, file);
  return { age, lastModified: m.lastmodified, mac: m.mac, rules };
}

async function openDataKey(
  stanzas: readonly AgeStanza[],
  identities: readonly string[],
  file: string,
): Promise<Buffer> {
  if (identities.length === 0) throw new SopsError(`${file}: SOPS-encrypted, but no age identity was given`);
  const decrypter = new Decrypter();
  for (const identity of identities) {
    try {
      decrypter.addIdentity(identity);
    } catch {
      // The identity itself must not appear in the message.
      throw new SopsError("an age identity is malformed (expected AGE-SECRET-KEY-1...)");
    }
  }
  for (const stanza of stanzas) {
    try {
      const key = await decrypter.decrypt(armor.decode(stanza.enc));
      if (key.length === DATA_KEY_BYTES) return Buffer.from(key);
    } catch {
      // Not for our identities (or a broken stanza); try the next recipient.
    }
  }
  const recipients = stanzas.map((s) => s.recipient).join(", ");
  throw new SopsError(
    `${file}: none of the given age identities can decrypt the data key (recipients: ${recipients})`,
  );
}

interface Walk {
  dataKey: Buffer;
  rules: EncryptionRules;
  hash: ReturnType<typeof createHash>;
  file: string;
}

// sops.go shouldBeEncrypted, without the comment rules: later rules override earlier ones.
function shouldBeEncrypted(path: readonly string[], rules: EncryptionRules): boolean {
  let encrypted = true;
  const { unencryptedSuffix, encryptedSuffix, unencryptedRegex, encryptedRegex } = rules;
  if (unencryptedSuffix !== undefined && path.some((p) => p.endsWith(unencryptedSuffix))) encrypted = false;
  if (encryptedSuffix !== undefined) encrypted = path.some((p) => p.endsWith(encryptedSuffix));
  if (unencryptedRegex !== undefined && path.some((p) => unencryptedRegex.test(p))) encrypted = false;
  if (encryptedRegex !== undefined) encrypted = path.some((p) => encryptedRegex.test(p));
  return encrypted;
}

function walkDecrypt(doc: Document, node: YamlNode | null, path: string[], walk: Walk): unknown {
  if (isAlias(node)) return walkDecrypt(doc, node.resolve(doc) as YamlNode | null, path, walk);
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const key = keyName(pair.key);
      out[key] = walkDecrypt(doc, pair.value as YamlNode | null, [...path, key], walk);
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((item) => walkDecrypt(doc, item as YamlNode | null, path, walk));
  const value = isScalar(node) ? node.value : null;
  if (value === null || value === undefined) return null;
  const encrypted = shouldBeEncrypted(path, walk.rules);
  let plain: unknown = value;
  if (encrypted) {
    if (typeof value !== "string") {
      throw new SopsError(`${walk.file}: ${path.join(".")} should be encrypted but is not`);
    }
    if (value !== "") {
      try {
        plain = openValue(value, walk.dataKey, `${path.join(":")}:`).plaintext;
      } catch {
        throw new SopsError(
          `${walk.file}: the value at ${path.join(".")} cannot be decrypted: it was tampered with, moved, or ` +
            "encrypted with another data key",
        );
      }
    }
  }
  if (!walk.rules.macOnlyEncrypted || encrypted) walk.hash.update(macBytes(plain));
  return plain;
}

function walkEncrypt(doc: Document, node: YamlNode | null, path: string[], walk: Walk): void {
  if (isAlias(node)) {
    throw new SopsError(
      `${walk.file}: YAML aliases are not supported in files to encrypt (at ${path.join(".")})`,
    );
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      walkEncrypt(doc, pair.value as YamlNode | null, [...path, keyName(pair.key)], walk);
    }
    return;
  }
  if (isSeq(node)) {
    for (const item of node.items) walkEncrypt(doc, item as YamlNode | null, path, walk);
    return;
  }
  if (!isScalar(node) || node.value === null || node.value === undefined) return;
  const value = node.value;
  if (typeof value === "bigint") throw new SopsError(`${walk.file}: ${path.join(".")} is too large a number`);
  const encrypted = shouldBeEncrypted(path, walk.rules);
  walk.hash.update(macBytes(value));
  if (encrypted && value !== "") {
    node.value = sealValue(value as string | number | boolean, walk.dataKey, `${path.join(":")}:`);
    node.type = Scalar.PLAIN;
    node.format = undefined;
  }
}

function stripComments(doc: Document): void {
  doc.commentBefore = null;
  doc.comment = null;
  visit(doc, {
    Node(_key, node) {
      node.commentBefore = null;
      node.comment = null;
    },
  });
}

// sops.go ToBytes: what the MAC covers for each value type.
function macBytes(value: unknown): Buffer {
  if (typeof value === "boolean") return Buffer.from(value ? "True" : "False");
  if (typeof value === "number") return Buffer.from(formatNumber(value));
  if (value instanceof Uint8Array) return Buffer.from(value);
  return Buffer.from(String(value));
}

// Go's strconv.FormatFloat(v, 'f', -1, 64) (shortest, never an exponent); integers as strconv.Itoa.
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const shortest = String(value);
  if (!/e/i.test(shortest)) return shortest;
  const [mantissa = "", exponentText = "0"] = shortest.split(/e/i);
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith("-");
  const [whole = "", fraction = ""] = mantissa.replace("-", "").split(".");
  const digits = whole + fraction;
  const point = whole.length + exponent;
  let out: string;
  if (point <= 0) out = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + "0".repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${out}` : out;
}

function sealValue(value: string | number | boolean, key: Buffer, additionalData: string): string {
  let type: string;
  let plaintext: string;
  if (typeof value === "string") {
    type = "str";
    plaintext = value;
  } else if (typeof value === "boolean") {
    type = "bool";
    plaintext = value ? "True" : "False";
  } else {
    type = Number.isInteger(value) ? "int" : "float";
    plaintext = formatNumber(value);
  }
  const iv = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(additionalData));
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `ENC[AES256_GCM,data:${data.toString("base64")},iv:${iv.toString("base64")},tag:${tag.toString("base64")},type:${type}]`;
}

function openValue(value: string, key: Buffer, additionalData: string): { plaintext: unknown } {
  const match = ENCRYPTED_VALUE.exec(value);
  if (!match) throw new Error("not a SOPS encrypted value");
  const [, data = "", iv = "", tag = "", type = ""] = match;
  const tagBytes = Buffer.from(tag, "base64");
  if (tagBytes.length !== TAG_BYTES) throw new Error("bad tag");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(additionalData));
  decipher.setAuthTag(tagBytes);
  const bytes = Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]);
  const text = bytes.toString("utf8");
  switch (type) {
    case "str":
      return { plaintext: text };
    case "int":
    case "int64":
      return { plaintext: Number.parseInt(text, 10) };
    case "float":
      return { plaintext: Number.parseFloat(text) };
    case "bool":
      return { plaintext: ["1", "t", "T", "TRUE", "true", "True"].includes(text) };
    case "bytes":
      return { plaintext: bytes };
    default:
      throw new Error(`unknown SOPS value type ${type}`);
  }
}

// sops compares the MAC under lastmodified re-formatted as Go's RFC 3339 (seconds, "Z" for UTC).
function normalizeTimestamp(text: string, file: string): string {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!match) throw new SopsError(`${file}: sops.lastmodified is not an RFC 3339 time`);
  // Go's "Z07:00" prints a zero offset as Z.
  return `${match[1]}${match[2] === "+00:00" || match[2] === "-00:00" ? "Z" : match[2]}`;
}

function formatTimestamp(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Renders plain documents as multi-document YAML (for `secret decrypt`). */
export function documentsToYaml(documents: readonly unknown[]): string {
  return documents.map((doc) => stringify(doc, { lineWidth: 0 })).join("---\n");
}
