// The local control plane's own PKI: one CA, the kube-apiserver's serving certificate, client certificates
// for each component and the admin, and the service-account signing key. Same shape as a kubeadm cluster,
// so authentication and RBAC behave as they do in a real one.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface ControlPlanePKI {
  ca: KeyPair;
  apiserver: KeyPair;
  admin: KeyPair;
  controllerManager: KeyPair;
  scheduler: KeyPair;
  serviceAccount: { publicPem: string; privatePem: string };
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function rsaKey(): {
  forgePrivate: forge.pki.rsa.PrivateKey;
  forgePublic: forge.pki.rsa.PublicKey;
  pem: string;
} {
  // node:crypto generates keys natively; node-forge's pure-JS RSA generation takes seconds per key.
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const forgePrivate = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const forgePublic = forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e);
  return { forgePrivate, forgePublic, pem: privateKey };
}

interface IssueOptions {
  commonName: string;
  organizations?: string[];
  isCA?: boolean;
  server?: boolean;
  client?: boolean;
  dnsNames?: string[];
  ips?: string[];
}

function issue(opts: IssueOptions, signer?: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }) {
  const key = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.forgePublic;
  // Positive serial: the high bit of the first byte must be clear.
  cert.serialNumber = `0${randomBytes(16).toString("hex")}`.slice(0, 32).replace(/^[89a-f]/, "7");
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + YEAR_MS);
  const subject: forge.pki.CertificateField[] = [{ name: "commonName", value: opts.commonName }];
  for (const o of opts.organizations ?? []) subject.push({ name: "organizationName", value: o });
  cert.setSubject(subject);
  cert.setIssuer(signer ? signer.cert.subject.attributes : subject);
  const extensions: object[] = [
    { name: "basicConstraints", cA: Boolean(opts.isCA), critical: true },
    opts.isCA
      ? { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ];
  if (!opts.isCA) {
    extensions.push({
      name: "extKeyUsage",
      serverAuth: Boolean(opts.server),
      clientAuth: Boolean(opts.client),
    });
  }
  const altNames = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(opts.ips ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: "subjectAltName", altNames });
  cert.setExtensions(extensions);
  cert.sign(signer?.key ?? key.forgePrivate, forge.md.sha256.create());
  return {
    cert,
    key: key.forgePrivate,
    pair: { certPem: forge.pki.certificateToPem(cert), keyPem: key.pem },
  };
}

/** Generates a fresh PKI for one local control plane. */
export function generateControlPlanePKI(): ControlPlanePKI {
  const ca = issue({ commonName: "zitadel-operator-local-ca", isCA: true });
  const signer = { cert: ca.cert, key: ca.key };
  const apiserver = issue(
    {
      commonName: "kube-apiserver",
      server: true,
      dnsNames: [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
      ],
      ips: ["127.0.0.1", "10.0.0.1"],
    },
    signer,
  );
  // kubeadm's identities: system:masters for the admin, the bootstrap RBAC users for the components.
  const admin = issue(
    { commonName: "zitadel-operator-admin", organizations: ["system:masters"], client: true },
    signer,
  );
  const controllerManager = issue({ commonName: "system:kube-controller-manager", client: true }, signer);
  const scheduler = issue({ commonName: "system:kube-scheduler", client: true }, signer);
  const sa = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return {
    ca: ca.pair,
    apiserver: apiserver.pair,
    admin: admin.pair,
    controllerManager: controllerManager.pair,
    scheduler: scheduler.pair,
    serviceAccount: { publicPem: sa.publicKey, privatePem: sa.privateKey },
  };
}

/** A client certificate for any user and groups, signed by the control plane's CA (for RBAC tests). */
export function issueClientCertificate(ca: KeyPair, user: string, groups: string[] = []): KeyPair {
  const signer = {
    cert: forge.pki.certificateFromPem(ca.certPem),
    key: forge.pki.privateKeyFromPem(ca.keyPem),
  };
  return issue({ commonName: user, organizations: groups, client: true }, signer).pair;
}
