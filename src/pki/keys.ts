import { createPrivateKey, generateKeyPair, type KeyObject } from "node:crypto";
import { inspect } from "node:util";

// ECDSA P-256 is the default: node:crypto makes a key in ~0.1 ms against ~45 ms for RSA 2048 and ~150 ms for
// RSA 3072 (bench/pki.bench.ts), it is as strong as RSA 3072, and CockroachDB (Go's crypto/tls and x509; its key
// loader takes PKCS#8, PKCS#1 and SEC1), libpq/OpenSSL and pgx all accept it. RSA stays selectable for clients
// that cannot use EC keys.
export const KEY_ALGORITHMS = ["ecdsa-p256", "rsa-2048", "rsa-3072"] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = "ecdsa-p256";

const REDACTED = "[private key]";

/**
 * A private key that cannot leak by accident: printing, interpolating, inspecting or JSON-encoding it yields
 * "[private key]". Only `toPem()` returns the key material, and only Secret data builders call it. The PEM text
 * it was read from is kept as is, so writing an unchanged key back produces byte-identical Secret data.
 */
export class PrivateKey {
  readonly #key: KeyObject;
  readonly #pem: string;

  private constructor(key: KeyObject, pem: string) {
    this.#key = key;
    this.#pem = pem;
  }

  static fromKeyObject(key: KeyObject): PrivateKey {
    if (key.type !== "private") throw new TypeError("PrivateKey needs a private KeyObject");
    return new PrivateKey(key, key.export({ type: "pkcs8", format: "pem" }).toString());
  }

  /** Reads PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM; undefined when the text is not an unencrypted private key. */
  static fromPem(pem: string): PrivateKey | undefined {
    try {
      return new PrivateKey(createPrivateKey({ key: pem, format: "pem" }), pem);
    } catch {
      // The parser's message may quote the input; the caller reports a fixed message instead.
      return undefined;
    }
  }

  get keyObject(): KeyObject {
    return this.#key;
  }

  get algorithm(): KeyAlgorithm | undefined {
    return keyAlgorithmOf(this.#key);
  }

  /** The key as PEM, for Secret data only. */
  toPem(): string {
    return this.#pem;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Makes a new private key; injected into desiredSecretData so tests and benchmarks can swap it. */
export type KeyGenerator = (algorithm: KeyAlgorithm) => Promise<PrivateKey>;

/** Generates keys with node:crypto on the libuv thread pool, so slow RSA generation never blocks reconciles. */
export const generatePrivateKey: KeyGenerator = (algorithm) =>
  new Promise((resolve, reject) => {
    const done = (err: Error | null, _publicKey: KeyObject, privateKey: KeyObject) => {
      if (err) reject(err);
      else resolve(PrivateKey.fromKeyObject(privateKey));
    };
    switch (algorithm) {
      case "ecdsa-p256":
        generateKeyPair("ec", { namedCurve: "P-256" }, done);
        break;
      case "rsa-2048":
        generateKeyPair("rsa", { modulusLength: 2048 }, done);
        break;
      case "rsa-3072":
        generateKeyPair("rsa", { modulusLength: 3072 }, done);
        break;
    }
  });

/** Which of our algorithms `key` (public or private) uses; undefined for anything else, e.g. a user's P-384 CA. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1") return "ecdsa-p256";
  if (key.asymmetricKeyType === "rsa" && details?.modulusLength === 2048) return "rsa-2048";
  if (key.asymmetricKeyType === "rsa" && details?.modulusLength === 3072) return "rsa-3072";
  return undefined;
}

/** A human description such as "ECDSA P-256" or "RSA 4096", for status and messages. */
export function describeKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case "ec":
      return `ECDSA ${CURVE_NAMES[details?.namedCurve ?? ""] ?? details?.namedCurve ?? "unknown curve"}`;
    case "rsa":
      return `RSA ${details?.modulusLength ?? "?"}`;
    default:
      return key.asymmetricKeyType ?? "unknown";
  }
}

const CURVE_NAMES: Readonly<Record<string, string>> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};
