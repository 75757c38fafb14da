import { createHash, createPublicKey, type KeyObject, randomBytes, sign, X509Certificate } from "node:crypto";
import {
  type Asn1,
  bitString,
  boolean,
  children,
  explicit,
  fromDer,
  implicitPrimitive,
  integer,
  isContextSpecific,
  nullValue,
  OID,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  time,
  toDer,
  utf8String,
} from "./asn1.ts";
import { certificateInfoFromDer } from "./certificate-info.ts";
import { ipToBytes } from "./ip-address.ts";
import { describeKey, type PrivateKey } from "./keys.ts";
import { certificatePem } from "./pem.ts";

// Builds an X.509 v3 certificate from ASN.1 nodes and signs it with node:crypto. node-forge cannot sign with
// ECDSA and its RSA signing runs in JavaScript (bench/pki.bench.ts measures both), so forge only encodes DER.

export type KeyUsage = "digitalSignature" | "keyEncipherment" | "keyCertSign" | "cRLSign";
export type ExtendedKeyUsage = "serverAuth" | "clientAuth";

export interface DistinguishedName {
  readonly commonName: string;
  readonly organization?: string;
  readonly organizationalUnit?: string;
}

export interface CertificateTemplate {
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Present for a CA; pathLength 0 means it may sign leaves only. */
  readonly ca?: { readonly pathLength?: number };
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly keyUsage: readonly KeyUsage[];
  readonly extendedKeyUsage?: readonly ExtendedKeyUsage[];
}

/** The CA that signs: its certificate (PEM) and key. Omit it to self-sign with the subject's own key. */
export interface Issuer {
  readonly certificatePem: string;
  readonly key: PrivateKey;
}

// Bit positions in the KeyUsage BIT STRING (RFC 5280 4.2.1.3), counted from the most significant bit.
const KEY_USAGE_BITS: Readonly<Record<KeyUsage, number>> = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
};

export interface SignatureAlgorithm {
  readonly oid: string;
  readonly hash: string;
  /** RSA AlgorithmIdentifiers carry an explicit NULL; ECDSA ones carry no parameters (RFC 5758 3.2). */
  readonly nullParameters: boolean;
}

/** How a CA with this key signs, or undefined for key types CockroachDB cannot use (e.g. Ed25519, RSA-PSS). */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm | undefined {
  if (key.asymmetricKeyType === "rsa") {
    return { oid: OID.sha256WithRSAEncryption, hash: "sha256", nullParameters: true };
  }
  if (key.asymmetricKeyType === "ec") {
    switch (key.asymmetricKeyDetails?.namedCurve) {
      case "prime256v1":
        return { oid: OID.ecdsaWithSHA256, hash: "sha256", nullParameters: false };
      case "secp384r1":
        return { oid: OID.ecdsaWithSHA384, hash: "sha384", nullParameters: false };
      case "secp521r1":
        return { oid: OID.ecdsaWithSHA512, hash: "sha512", nullParameters: false };
    }
  }
  return undefined;
}

/**
 * Signs a certificate for `subjectKey` (a private key; only its public half goes into the certificate) and
 * returns it as PEM. Throws only on programming errors: callers check `signatureAlgorithmFor` beforehand.
 */
export function signCertificate(
  template: CertificateTemplate,
  subjectKey: PrivateKey,
  issuer?: Issuer,
): string {
  const signingKey = issuer?.key ?? subjectKey;
  const algorithm = signatureAlgorithmFor(signingKey.keyObject);
  if (algorithm === undefined) {
    throw new Error(`cannot sign with a ${describeKey(signingKey.keyObject)} key`);
  }
  const spkiDer = subjectPublicKeyInfo(subjectKey.keyObject);
  const spki = fromDer(spkiDer);
  const subjectKeyId = keyIdentifier(spki);
  const subjectName = distinguishedName(template.subject);

  let issuerName = subjectName;
  let authorityKeyId = subjectKeyId;
  if (issuer !== undefined) {
    const caDer = new X509Certificate(issuer.certificatePem).raw;
    const parts = tbsParts(fromDer(caDer));
    // Copy the CA's subject byte for byte: chain building (Go, OpenSSL) matches issuer to subject as bytes.
    issuerName = parts.subject;
    // Point at the CA's own key identifier when it has one; CAs made elsewhere may use another derivation.
    const caKeyId = certificateInfoFromDer(caDer).subjectKeyId;
    authorityKeyId = caKeyId === undefined ? keyIdentifier(parts.spki) : Buffer.from(caKeyId, "hex");
  }

  const signatureAlgorithm = sequence(
    algorithm.nullParameters ? [oid(algorithm.oid), nullValue()] : [oid(algorithm.oid)],
  );
  const tbs = sequence([
    explicit(0, smallInteger(2)), // v3
    integer(serialNumber()),
    signatureAlgorithm,
    issuerName,
    sequence([time(template.notBefore), time(template.notAfter)]),
    subjectName,
    spki,
    explicit(3, sequence(extensions(template, subjectKey.keyObject, subjectKeyId, authorityKeyId))),
  ]);
  const tbsDer = toDer(tbs);
  const signature = sign(algorithm.hash, tbsDer, signingKey.keyObject);
  const der = toDer(sequence([tbs, signatureAlgorithm, bitString(signature)]));
  return certificatePem(der);
}

function extensions(
  template: CertificateTemplate,
  subjectKey: KeyObject,
  subjectKeyId: Buffer,
  authorityKeyId: Buffer,
): Asn1[] {
  const result = [
    extension(
      OID.basicConstraints,
      true,
      sequence(
        template.ca
          ? [
              boolean(true),
              ...(template.ca.pathLength === undefined ? [] : [smallInteger(template.ca.pathLength)]),
            ]
          : [],
      ),
    ),
    extension(OID.keyUsage, true, keyUsageBits(keyUsageFor(template, subjectKey))),
  ];
  if (template.extendedKeyUsage?.length) {
    result.push(
      extension(OID.extKeyUsage, false, sequence(template.extendedKeyUsage.map((usage) => oid(OID[usage])))),
    );
  }
  const names = [
    ...(template.dnsNames ?? []).map((name) => implicitPrimitive(2, Buffer.from(name, "ascii"))),
    ...(template.ipAddresses ?? []).map((ip) => {
      const bytes = ipToBytes(ip);
      if (bytes === undefined) throw new Error(`not an IP address: ${ip}`);
      return implicitPrimitive(7, bytes);
    }),
  ];
  if (names.length > 0) result.push(extension(OID.subjectAltName, false, sequence(names)));
  result.push(extension(OID.subjectKeyIdentifier, false, octetString(subjectKeyId)));
  result.push(extension(OID.authorityKeyIdentifier, false, sequence([implicitPrimitive(0, authorityKeyId)])));
  return result;
}

// keyEncipherment only means something for RSA keys (RSA key transport); OpenSSL rejects it on EC leaves in
// strict modes, so it is dropped for other key types.
function keyUsageFor(template: CertificateTemplate, subjectKey: KeyObject): KeyUsage[] {
  return template.keyUsage.filter(
    (usage) => usage !== "keyEncipherment" || subjectKey.asymmetricKeyType === "rsa",
  );
}

function keyUsageBits(usages: readonly KeyUsage[]): Asn1 {
  let bits = 0;
  for (const usage of usages) bits |= 0x8000 >> KEY_USAGE_BITS[usage];
  // DER: no trailing zero bytes and the count of unused trailing bits in the last byte.
  const bytes = bits & 0xff ? Buffer.of(bits >> 8, bits & 0xff) : Buffer.of(bits >> 8);
  const last = bytes[bytes.length - 1] ?? 0;
  let unused = 0;
  while (unused < 8 && last !== 0 && !(last & (1 << unused))) unused++;
  return bitString(bytes, last === 0 ? 0 : unused);
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  return sequence([oid(id), ...(critical ? [boolean(true)] : []), octetString(toDer(value))]);
}

function distinguishedName(dn: DistinguishedName): Asn1 {
  const attributes: [string, string | undefined][] = [
    [OID.organization, dn.organization],
    [OID.organizationalUnit, dn.organizationalUnit],
    [OID.commonName, dn.commonName],
  ];
  return sequence(
    attributes
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([type, value]) => set([sequence([oid(type), utf8String(value)])])),
  );
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Asn1): Buffer {
  const bits = children(spki)[1];
  const content =
    typeof bits?.value === "string" ? Buffer.from(bits.value, "binary").subarray(1) : Buffer.alloc(0);
  return createHash("sha1").update(content).digest();
}

function subjectPublicKeyInfo(key: KeyObject): Buffer {
  return Buffer.from(createPublicKey(key).export({ type: "spki", format: "der" }));
}

/** The subject Name and SubjectPublicKeyInfo nodes of a certificate. */
function tbsParts(certificate: Asn1): { subject: Asn1; spki: Asn1 } {
  const fields = children(children(certificate)[0]);
  const offset = isContextSpecific(fields[0], 0) ? 1 : 0;
  const subject = fields[4 + offset];
  const spki = fields[5 + offset];
  if (subject === undefined || spki === undefined) throw new Error("CA certificate has no subject");
  return { subject, spki };
}

/** 16 random bytes, positive and without a leading zero byte (RFC 5280 4.1.2.2 allows up to 20). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes;
}
