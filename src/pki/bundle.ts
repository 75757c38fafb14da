import { X509Certificate } from "node:crypto";
import { type CertificateInfo, certificateInfoFromDer } from "./certificate-info.ts";
import { certificateBlocks, certificatePem } from "./pem.ts";
import type { PkiProblem } from "./problem.ts";

// A trust bundle is a ca.crt holding one or more CA certificates. During a CA rotation it holds the new CA and
// the old one, so peers accept leaves signed by either (CockroachDB reads every certificate in ca.crt).

/** Every certificate in `text` as its own normalized PEM, in order. */
export function splitPemCertificates(text: string): string[] {
  return certificateBlocks(text).map(certificatePem);
}

/** One ca.crt from several certificates or bundles: normalized, in the given order, each certificate once. */
export function joinPemCertificates(pems: readonly string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pem of pems) {
    for (const der of certificateBlocks(pem)) {
      const key = der.toString("base64");
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(certificatePem(der));
    }
  }
  return out.join("");
}

/** True when `ca` is a CA certificate whose key made the signature on `leaf` (validity dates are not checked). */
export function isSignedBy(leafPem: string, caPem: string): boolean {
  try {
    const leaf = new X509Certificate(leafPem);
    const ca = new X509Certificate(caPem);
    return ca.ca && leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** The CA among `caPems` that signed `leafPem`, or undefined. Validity dates are not checked. */
export function findIssuer(leafPem: string, caPems: readonly string[]): string | undefined {
  return caPems.find((caPem) => isSignedBy(leafPem, caPem));
}

export type ChainCheck =
  | { readonly ok: true; readonly issuer: CertificateInfo }
  | ({ readonly ok: false } & PkiProblem);

/**
 * Whether `leafPem` chains to a CA in `bundlePem` at `now`: signed by one of them, and both certificates within
 * their validity period. Our chains are one level deep: every leaf is signed directly by a CA in ca.crt.
 */
export function verifyLeaf(leafPem: string, bundlePem: string, now: Date): ChainCheck {
  const leafDer = certificateBlocks(leafPem)[0];
  const leaf = leafDer === undefined ? undefined : readable(leafDer);
  if (leafDer === undefined || leaf === undefined) {
    return { ok: false, reason: "InvalidCertificate", message: "no readable certificate found" };
  }
  if (!within(leaf, now)) {
    return {
      ok: false,
      reason: "CertificateNotValidNow",
      message: `certificate ${leaf.subject} is valid from ${iso(leaf.notBefore)} to ${iso(leaf.notAfter)}, not at ${iso(now)}`,
    };
  }
  const issuerPem = findIssuer(certificatePem(leafDer), splitPemCertificates(bundlePem));
  if (issuerPem === undefined) {
    return {
      ok: false,
      reason: "UntrustedCertificate",
      message: `certificate ${leaf.subject} is not signed by any CA in the bundle`,
    };
  }
  const issuer = readable(certificateBlocks(issuerPem)[0] ?? Buffer.alloc(0));
  if (issuer === undefined) {
    return {
      ok: false,
      reason: "InvalidCertificate",
      message: `the CA that signed ${leaf.subject} is unreadable`,
    };
  }
  if (!within(issuer, now)) {
    return {
      ok: false,
      reason: "CANotValidNow",
      message: `CA ${issuer.subject} that signed ${leaf.subject} is valid until ${iso(issuer.notAfter)}, not at ${iso(now)}`,
    };
  }
  return { ok: true, issuer };
}

function readable(der: Buffer): CertificateInfo | undefined {
  try {
    return certificateInfoFromDer(der);
  } catch {
    return undefined;
  }
}

function within(cert: CertificateInfo, now: Date): boolean {
  return cert.notBefore.getTime() <= now.getTime() && now.getTime() <= cert.notAfter.getTime();
}

function iso(date: Date): string {
  return date.toISOString();
}
