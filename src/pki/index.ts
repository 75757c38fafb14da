// The pure PKI core for CockroachCluster certificates: issuance, parsing, trust bundles, renewal and CA rotation
// decisions, and the Secret layout. No Kubernetes I/O; the CockroachCluster reconciler reads and writes Secrets.
export * from "./bundle.ts";
export * from "./ca-rotation.ts";
export * from "./certificate-info.ts";
export * from "./desired-state.ts";
export * from "./duration.ts";
export * from "./issue.ts";
export * from "./keys.ts";
export * from "./names.ts";
export * from "./policy.ts";
export type * from "./problem.ts";
export * from "./renewal.ts";
export * from "./secret-layout.ts";
export {
  type CertificateTemplate,
  type DistinguishedName,
  type ExtendedKeyUsage,
  type Issuer,
  type KeyUsage,
  signatureAlgorithmFor,
  signCertificate,
} from "./sign-certificate.ts";
