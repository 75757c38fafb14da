import { X509Certificate } from "node:crypto";
import { type Asn1, bytesOf, children, fromDer, isContextSpecific, isUniversal, OID, oidOf } from "./asn1.ts";
import { ipFromBytes } from "./ip-address.ts";
import { describeKey, type KeyAlgorithm, keyAlgorithmOf } from "./keys.ts";
import { certificateBlocks } from "./pem.ts";

/** What a certificate says about itself. Holds public facts only; there is no key in a certificate. */
export interface CertificateInfo {
  /** RFC 4514-like text in certificate order, e.g. "O=zitadel-operator, CN=db CA 20250101T000000Z". */
  readonly subject: string;
  readonly commonName: string | undefined;
  readonly issuer: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Upper-case hex. */
  readonly serialNumber: string;
  /** SHA-256 of the DER, upper-case hex pairs joined by ":" (as `openssl x509 -fingerprint -sha256` prints). */
  readonly fingerprint: string;
  readonly isCA: boolean;
  readonly keyUsage: readonly string[];
  /** "serverAuth", "clientAuth", or the OID of any other purpose. */
  readonly extendedKeyUsage: readonly string[];
  /** e.g. "ECDSA P-256" or "RSA 2048". */
  readonly publicKey: string;
  /** Set when the key is one of the algorithms this operator issues. */
  readonly keyAlgorithm: KeyAlgorithm | undefined;
  /** Lower-case hex, when the extension is present. */
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
}

/** Raised for input that is not a readable certificate. The message never quotes the input. */
export class InvalidCertificateError extends Error {
  readonly reason = "InvalidCertificate";
}

const KEY_USAGE_NAMES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;

/** Facts about the first certificate in `pem`; other PEM blocks (keys included) are ignored. */
export function certificateInfo(pem: string): CertificateInfo {
  const der = certificateBlocks(pem)[0];
  if (der === undefined) throw new InvalidCertificateError("no PEM CERTIFICATE block found");
  return certificateInfoFromDer(der);
}

export function certificateInfoFromDer(der: Buffer): CertificateInfo {
  let x509: X509Certificate;
  let extensions: Map<string, Asn1>;
  try {
    x509 = new X509Certificate(der);
    extensions = readExtensions(fromDer(der));
  } catch {
    throw new InvalidCertificateError("certificate could not be parsed as X.509 DER");
  }
  const subject = rdnText(x509.subject);
  const names = subjectAltNames(extensions.get(OID.subjectAltName));
  return {
    subject,
    commonName: /(?:^|, )CN=([^,]*)/.exec(subject)?.[1],
    issuer: rdnText(x509.issuer),
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
    serialNumber: x509.serialNumber.toUpperCase(),
    fingerprint: x509.fingerprint256,
    isCA: x509.ca,
    keyUsage: keyUsage(extensions.get(OID.keyUsage)),
    extendedKeyUsage: children(extensions.get(OID.extKeyUsage)).map((node) => {
      const id = oidOf(node) ?? "";
      return id === OID.serverAuth ? "serverAuth" : id === OID.clientAuth ? "clientAuth" : id;
    }),
    publicKey: describeKey(x509.publicKey),
    keyAlgorithm: keyAlgorithmOf(x509.publicKey),
    subjectKeyId: hexOrUndefined(bytesOf(extensions.get(OID.subjectKeyIdentifier))),
    authorityKeyId: hexOrUndefined(
      bytesOf(
        children(extensions.get(OID.authorityKeyIdentifier)).find((node) => isContextSpecific(node, 0)),
      ),
    ),
  };
}

function rdnText(text: string): string {
  return text.split("\n").join(", ");
}

const READ_EXTENSIONS = new Set<string>([
  OID.subjectAltName,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);

/** The values of the extensions we report, parsed, by OID. Others are skipped unparsed, whatever they hold. */
function readExtensions(certificate: Asn1): Map<string, Asn1> {
  const fields = children(children(certificate)[0]);
  const list = fields.find((field) => isContextSpecific(field, 3));
  const result = new Map<string, Asn1>();
  for (const ext of children(children(list)[0])) {
    const parts = children(ext);
    const id = oidOf(parts[0]);
    const value = parts[parts.length - 1];
    if (id !== undefined && value !== undefined && READ_EXTENSIONS.has(id))
      result.set(id, fromDer(bytesOf(value)));
  }
  return result;
}

function subjectAltNames(node: Asn1 | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const name of children(node)) {
    if (isContextSpecific(name, 2)) dnsNames.push(bytesOf(name).toString("ascii"));
    if (isContextSpecific(name, 7)) {
      const ip = ipFromBytes(bytesOf(name));
      if (ip !== undefined) ipAddresses.push(ip);
    }
  }
  return { dnsNames, ipAddresses };
}

function keyUsage(node: Asn1 | undefined): string[] {
  if (!isUniversal(node, "BITSTRING")) return [];
  const bits = bytesOf(node).subarray(1);
  return KEY_USAGE_NAMES.filter((_, i) => ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
}

function hexOrUndefined(bytes: Buffer): string | undefined {
  return bytes.length === 0 ? undefined : bytes.toString("hex");
}
