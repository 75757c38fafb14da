import { type CertificateInfo, certificateInfo } from "./certificate-info.ts";
import { generatePrivateKey, type KeyAlgorithm, type KeyGenerator, type PrivateKey } from "./keys.ts";
import type { SubjectAltNames } from "./names.ts";
import type { RenewalPolicy } from "./policy.ts";
import { type Issuer, signCertificate } from "./sign-certificate.ts";

/** A certificate with its key and what it says about itself. */
export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly key: PrivateKey;
  readonly info: CertificateInfo;
}

interface Common {
  readonly now: Date;
  /** lifetimeMs and clockSkewMs are used. */
  readonly policy: RenewalPolicy;
  readonly keyAlgorithm: KeyAlgorithm;
  readonly keygen?: KeyGenerator;
}

export interface GenerateCAParams extends Common {
  /** Unique per CA, so that the old and the new CA in one ca.crt can be told apart by name. */
  readonly commonName: string;
  readonly organization?: string;
}

export interface LeafParams extends Common {
  readonly ca: Issuer;
}

/** The CockroachDB node user; CockroachDB requires CN=node on node.crt. */
export const NODE_COMMON_NAME = "node";

/** A self-signed CA that may sign leaves only (path length 0). */
export async function generateCA(params: GenerateCAParams): Promise<IssuedCertificate> {
  const key = await (params.keygen ?? generatePrivateKey)(params.keyAlgorithm);
  const certificatePem = signCertificate(
    {
      subject: { commonName: params.commonName, organization: params.organization },
      notBefore: new Date(params.now.getTime() - params.policy.clockSkewMs),
      notAfter: new Date(params.now.getTime() + params.policy.lifetimeMs),
      ca: { pathLength: 0 },
      keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"],
    },
    key,
  );
  return { certificatePem, key, info: certificateInfo(certificatePem) };
}

/**
 * The node certificate: CN=node, every name in `names`, and both server and client auth, because a node is a
 * server to clients and a client to its peers (https://www.cockroachlabs.com/docs/stable/cockroach-cert).
 */
export async function issueNodeCertificate(
  params: LeafParams & { readonly names: SubjectAltNames },
): Promise<IssuedCertificate> {
  return issueLeaf(params, NODE_COMMON_NAME, params.names, ["serverAuth", "clientAuth"]);
}

/** A client certificate for SQL user `user`: CN=<user>, client auth only. */
export async function issueClientCertificate(
  params: LeafParams & { readonly user: string },
): Promise<IssuedCertificate> {
  return issueLeaf(params, params.user, { dnsNames: [], ipAddresses: [] }, ["clientAuth"]);
}

async function issueLeaf(
  params: LeafParams,
  commonName: string,
  names: SubjectAltNames,
  extendedKeyUsage: ("serverAuth" | "clientAuth")[],
): Promise<IssuedCertificate> {
  const key = await (params.keygen ?? generatePrivateKey)(params.keyAlgorithm);
  const ca = certificateInfo(params.ca.certificatePem);
  // A leaf never outlives its CA: past the CA's notAfter the chain is invalid anyway.
  const notAfter = Math.min(params.now.getTime() + params.policy.lifetimeMs, ca.notAfter.getTime());
  const certificatePem = signCertificate(
    {
      subject: { commonName },
      notBefore: new Date(params.now.getTime() - params.policy.clockSkewMs),
      notAfter: new Date(notAfter),
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
      keyUsage: ["digitalSignature", "keyEncipherment"],
      extendedKeyUsage,
    },
    key,
    params.ca,
  );
  return { certificatePem, key, info: certificateInfo(certificatePem) };
}
