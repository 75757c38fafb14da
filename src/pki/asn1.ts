import forge from "node-forge";

// node-forge's DER codec with Buffers at the edges (forge itself works on "binary strings"), and the OIDs we
// write and read. node-forge only builds and parses RSA certificates as objects, so certificates are assembled
// here from ASN.1 nodes, which works for any key type; signatures come from node:crypto.

export type Asn1 = forge.asn1.Asn1;

const { Class, Type } = forge.asn1;

export const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
  ecdsaWithSHA512: "1.2.840.10045.4.3.4",
} as const;

export function toDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), "binary");
}

/** Parses DER; BIT STRING contents stay opaque so that re-encoding gives back the same bytes. */
export function fromDer(der: Buffer): Asn1 {
  const options = { strict: true, parseAllBytes: true, decodeBitStrings: false };
  // @types/node-forge only declares the boolean form of the second argument.
  return forge.asn1.fromDer(der.toString("binary"), options as unknown as boolean);
}

export function sequence(items: Asn1[]): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
}

export function set(items: Asn1[]): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.SET, true, items);
}

export function oid(value: string): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(value).getBytes());
}

export function oidOf(node: Asn1 | undefined): string | undefined {
  if (node?.type !== Type.OID || typeof node.value !== "string") return undefined;
  return forge.asn1.derToOid(node.value);
}

/** A DER INTEGER from unsigned big-endian bytes (a leading zero is added when the top bit is set). */
export function integer(bytes: Buffer): Asn1 {
  const content = (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes;
  return forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, content.toString("binary"));
}

export function smallInteger(value: number): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, forge.asn1.integerToDer(value).getBytes());
}

export function boolean(value: boolean): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, value ? "\xff" : "\x00");
}

export function nullValue(): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.NULL, false, "");
}

export function octetString(bytes: Buffer): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes.toString("binary"));
}

/** A BIT STRING holding whole bytes (no unused bits), as used for keys and signatures. */
export function bitString(bytes: Buffer, unusedBits = 0): Asn1 {
  return forge.asn1.create(
    Class.UNIVERSAL,
    Type.BITSTRING,
    false,
    Buffer.concat([Buffer.of(unusedBits), bytes]).toString("binary"),
  );
}

export function utf8String(text: string): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(text));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds. */
export function time(date: Date): Asn1 {
  const seconds = new Date(Math.floor(date.getTime() / 1000) * 1000);
  if (seconds.getUTCFullYear() < 2050) {
    return forge.asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, forge.asn1.dateToUtcTime(seconds));
  }
  return forge.asn1.create(
    Class.UNIVERSAL,
    Type.GENERALIZEDTIME,
    false,
    forge.asn1.dateToGeneralizedTime(seconds),
  );
}

/** A context-specific tagged node: [tag] EXPLICIT around `inner`, or [tag] IMPLICIT primitive holding `bytes`. */
export function explicit(tag: number, inner: Asn1): Asn1 {
  return forge.asn1.create(Class.CONTEXT_SPECIFIC, tag, true, [inner]);
}

export function implicitPrimitive(tag: number, bytes: Buffer): Asn1 {
  return forge.asn1.create(Class.CONTEXT_SPECIFIC, tag, false, bytes.toString("binary"));
}

export function isContextSpecific(node: Asn1 | undefined, tag: number): boolean {
  return node?.tagClass === Class.CONTEXT_SPECIFIC && node.type === tag;
}

/** The children of a constructed node ([] for a primitive one). */
export function children(node: Asn1 | undefined): Asn1[] {
  return Array.isArray(node?.value) ? node.value : [];
}

/** The content bytes of a primitive node. */
export function bytesOf(node: Asn1 | undefined): Buffer {
  return typeof node?.value === "string" ? Buffer.from(node.value, "binary") : Buffer.alloc(0);
}

export function isUniversal(node: Asn1 | undefined, type: "BOOLEAN" | "INTEGER" | "BITSTRING"): boolean {
  return node?.tagClass === Class.UNIVERSAL && node.type === Type[type];
}
