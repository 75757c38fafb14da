import type { CertificateInfo } from "./certificate-info.ts";
import type { KeyAlgorithm } from "./keys.ts";
import { sameNames } from "./names.ts";
import { RENEW_AT_FRACTION, type RenewalPolicy } from "./policy.ts";
import type { ExtendedKeyUsage } from "./sign-certificate.ts";

export type RenewalReason =
  | "missing"
  | "unreadable"
  | "expired"
  | "not-yet-valid"
  | "issuer-not-active"
  | "subject-changed"
  | "names-changed"
  | "usage-changed"
  | "key-algorithm-changed"
  | "lifetime-shortened"
  | "expiring";

export type RenewalDecision =
  | { readonly renew: false /** when the answer may change, for RequeueAfter */; readonly recheckAt: Date }
  | { readonly renew: true; readonly reason: RenewalReason; readonly message: string };

/** What a leaf should look like now. */
export interface DesiredCertificate {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly extendedKeyUsage: readonly ExtendedKeyUsage[];
  readonly keyAlgorithm: KeyAlgorithm;
  /** CAs a leaf may be signed by: the active CA and, while a rotation introduces it, the next one. */
  readonly acceptedIssuers: readonly CertificateInfo[];
  /**
   * The latest notAfter a new certificate could get (the signing CA's notAfter). A certificate that already
   * reaches it is not renewed for age: a new one would expire at the same moment, and renewing would repeat on
   * every reconcile until the CA itself is replaced.
   */
  readonly notAfterLimit?: Date;
}

/** When `cert` is due for renewal under `policy`: renewBefore ahead of notAfter, or two thirds into its life. */
export function renewalTime(cert: CertificateInfo, policy: RenewalPolicy): Date {
  // notBefore was moved back by the clock-skew allowance at issue; measure the lifetime from the issue time.
  const issuedAt = Math.min(cert.notBefore.getTime() + policy.clockSkewMs, cert.notAfter.getTime());
  const lifetime = cert.notAfter.getTime() - issuedAt;
  const renewBefore = policy.renewBeforeMs ?? lifetime * (1 - RENEW_AT_FRACTION);
  return new Date(Math.floor(cert.notAfter.getTime() - renewBefore));
}

/** True when `ca` made `cert`, judged by key identifiers when both carry them, else by name. */
export function issuedBy(cert: CertificateInfo, ca: CertificateInfo): boolean {
  if (cert.authorityKeyId !== undefined && ca.subjectKeyId !== undefined) {
    return cert.authorityKeyId === ca.subjectKeyId;
  }
  return cert.issuer === ca.subject;
}

/**
 * Whether a leaf must be re-issued now, and why. Without `desired` only its dates are judged. The issuer check
 * here is by name and key identifier; desiredSecretData also checks the signature itself.
 */
export function shouldRenew(
  cert: CertificateInfo,
  now: Date,
  policy: RenewalPolicy,
  desired?: DesiredCertificate,
): RenewalDecision {
  const at = now.getTime();
  if (at >= cert.notAfter.getTime()) {
    return { renew: true, reason: "expired", message: `expired at ${iso(cert.notAfter)}` };
  }
  if (at < cert.notBefore.getTime()) {
    return { renew: true, reason: "not-yet-valid", message: `not valid before ${iso(cert.notBefore)}` };
  }
  if (desired !== undefined) {
    const mismatch = mismatchWith(cert, desired);
    if (mismatch !== undefined) return mismatch;
  }
  if (cert.notAfter.getTime() - at > policy.lifetimeMs + 1000) {
    return {
      renew: true,
      reason: "lifetime-shortened",
      message: `valid until ${iso(cert.notAfter)}, longer than the configured lifetime`,
    };
  }
  const renewAt = renewalTime(cert, policy);
  if (at < renewAt.getTime()) return { renew: false, recheckAt: renewAt };
  const limit = desired?.notAfterLimit;
  if (limit !== undefined && cert.notAfter.getTime() >= limit.getTime() - 1000) {
    return { renew: false, recheckAt: cert.notAfter };
  }
  return {
    renew: true,
    reason: "expiring",
    message: `expires at ${iso(cert.notAfter)}, renewal was due at ${iso(renewAt)}`,
  };
}

function mismatchWith(cert: CertificateInfo, desired: DesiredCertificate): RenewalDecision | undefined {
  if (!desired.acceptedIssuers.some((ca) => issuedBy(cert, ca))) {
    return {
      renew: true,
      reason: "issuer-not-active",
      message: `issued by ${cert.issuer}, which no longer signs`,
    };
  }
  if (cert.commonName !== desired.commonName) {
    return {
      renew: true,
      reason: "subject-changed",
      message: `common name is "${cert.commonName ?? ""}", want "${desired.commonName}"`,
    };
  }
  if (!sameNames(cert, desired)) {
    return {
      renew: true,
      reason: "names-changed",
      message: "subject alternative names differ from the desired names",
    };
  }
  const usages = new Set<string>(cert.extendedKeyUsage);
  if (
    usages.size !== desired.extendedKeyUsage.length ||
    !desired.extendedKeyUsage.every((u) => usages.has(u))
  ) {
    return {
      renew: true,
      reason: "usage-changed",
      message: `extended key usage is [${cert.extendedKeyUsage.join(", ")}], want [${desired.extendedKeyUsage.join(", ")}]`,
    };
  }
  if (cert.keyAlgorithm !== desired.keyAlgorithm) {
    return {
      renew: true,
      reason: "key-algorithm-changed",
      message: `key is ${cert.publicKey}, want ${desired.keyAlgorithm}`,
    };
  }
  return undefined;
}

/** Whether the CA itself is due for rotation: expired, or inside its renew-before window. */
export function shouldRotateCA(ca: CertificateInfo, now: Date, policy: RenewalPolicy): RenewalDecision {
  const at = now.getTime();
  if (at >= ca.notAfter.getTime()) {
    return { renew: true, reason: "expired", message: `CA expired at ${iso(ca.notAfter)}` };
  }
  const rotateAt = renewalTime(ca, policy);
  if (at < rotateAt.getTime()) return { renew: false, recheckAt: rotateAt };
  return { renew: true, reason: "expiring", message: `CA expires at ${iso(ca.notAfter)}` };
}

function iso(date: Date): string {
  return date.toISOString();
}
