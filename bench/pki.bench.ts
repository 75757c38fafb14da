// Certificate issuance speed and key generation cost for the key types considered (src/pki/keys.ts explains
// the choice). Run with `npm run bench pki`.
import forge from "node-forge";
import { desiredSecretData } from "../src/pki/desired-state.ts";
import { generateCA, issueClientCertificate, issueNodeCertificate } from "../src/pki/issue.ts";
import { generatePrivateKey, type KeyAlgorithm, type PrivateKey } from "../src/pki/keys.ts";
import { nodeSANs } from "../src/pki/names.ts";
import { type RenewalPolicy, resolveTLSPolicy } from "../src/pki/policy.ts";
import type { Figure } from "./run.ts";

const now = new Date();
const caPolicy: RenewalPolicy = {
  lifetimeMs: 5 * 365 * 86_400_000,
  renewBeforeMs: undefined,
  clockSkewMs: 300_000,
};
const leafPolicy: RenewalPolicy = {
  lifetimeMs: 90 * 86_400_000,
  renewBeforeMs: undefined,
  clockSkewMs: 300_000,
};
const names = nodeSANs({
  services: [
    {
      namespace: "db",
      publicService: "crdb-public",
      headlessService: "crdb",
      clusterDomain: "cluster.local",
    },
  ],
});

/** Runs `fn` until `minMs` have passed (at least `minRuns` times); returns the mean in milliseconds. */
async function meanMs(fn: () => Promise<unknown> | unknown, minMs = 1000, minRuns = 3): Promise<number> {
  await fn(); // warm-up
  const start = performance.now();
  let runs = 0;
  while (runs < minRuns || performance.now() - start < minMs) {
    await fn();
    runs++;
  }
  return (performance.now() - start) / runs;
}

async function keygenFigures(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const algorithm of ["ecdsa-p256", "rsa-2048", "rsa-3072"] as const) {
    figures.push({
      name: `keygen ${algorithm} (node:crypto, async)`,
      value: await meanMs(() => generatePrivateKey(algorithm)),
      unit: "ms",
    });
  }
  // node-forge hands RSA generation to node:crypto when it can; its own JavaScript path is what runs otherwise.
  figures.push({
    name: "keygen rsa-2048 (node-forge, default)",
    value: await meanMs(() => forge.pki.rsa.generateKeyPair({ bits: 2048 })),
    unit: "ms",
  });
  // @types/node-forge does not declare forge.options.
  const options = (forge as unknown as { options: { usePureJavaScript: boolean } }).options;
  options.usePureJavaScript = true;
  try {
    figures.push({
      name: "keygen rsa-2048 (node-forge, pure JavaScript)",
      value: await meanMs(() => forge.pki.rsa.generateKeyPair({ bits: 2048 }), 2000, 2),
      unit: "ms",
    });
  } finally {
    options.usePureJavaScript = false;
  }
  return figures;
}

async function issuanceRate(algorithm: KeyAlgorithm, keygen?: () => Promise<PrivateKey>): Promise<number> {
  const ca = await generateCA({ commonName: "bench CA", now, policy: caPolicy, keyAlgorithm: algorithm });
  const ms = await meanMs(() =>
    issueNodeCertificate({
      ca,
      names,
      now,
      policy: leafPolicy,
      keyAlgorithm: algorithm,
      keygen: keygen && (() => keygen()),
    }),
  );
  return 1000 / ms;
}

/** The approach we did not take for RSA: build and sign the certificate with node-forge's JavaScript RSA. */
async function forgeSigningRate(): Promise<number> {
  const caKeys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const leafKeys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const ms = await meanMs(() => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = leafKeys.publicKey;
    cert.serialNumber = "01";
    cert.validity.notBefore = now;
    cert.validity.notAfter = new Date(now.getTime() + leafPolicy.lifetimeMs);
    cert.setSubject([{ name: "commonName", value: "node" }]);
    cert.setIssuer([{ name: "commonName", value: "bench CA" }]);
    cert.setExtensions([
      { name: "extKeyUsage", serverAuth: true, clientAuth: true },
      { name: "subjectAltName", altNames: names.dnsNames.map((value) => ({ type: 2, value })) },
    ]);
    cert.sign(caKeys.privateKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  });
  return 1000 / ms;
}

async function reconcileFigures(): Promise<Figure[]> {
  const resolved = resolveTLSPolicy();
  if (!resolved.ok) throw new Error(resolved.message);
  const users = ["root", "zitadel", ...Array.from({ length: 8 }, (_, i) => `user${i}`)];
  const spec = { clusterName: "crdb", policy: resolved.policy, nodeNames: names, clientUsers: users };
  let first = await desiredSecretData(undefined, spec, now);
  const initialMs = await meanMs(async () => {
    first = await desiredSecretData(undefined, spec, now);
  });
  if (!first.ok) throw new Error(first.message);
  const current = { ca: first.secrets.ca, node: first.secrets.node, clients: first.secrets.clients };
  const steadyMs = await meanMs(() => desiredSecretData(current, spec, now));
  return [
    {
      name: "desiredSecretData, new cluster with 10 users (CA + 11 certificates)",
      value: initialMs,
      unit: "ms",
    },
    { name: "desiredSecretData, steady state with 10 users (nothing to do)", value: steadyMs, unit: "ms" },
  ];
}

export async function run(): Promise<Figure[]> {
  const rsaPool = await Promise.all(Array.from({ length: 4 }, () => generatePrivateKey("rsa-2048")));
  let next = 0;
  const pooledRsa = async () => rsaPool[next++ % rsaPool.length] as PrivateKey;
  const clientCA = await generateCA({
    commonName: "bench CA",
    now,
    policy: caPolicy,
    keyAlgorithm: "ecdsa-p256",
  });
  const clientMs = await meanMs(() =>
    issueClientCertificate({
      ca: clientCA,
      user: "root",
      now,
      policy: leafPolicy,
      keyAlgorithm: "ecdsa-p256",
    }),
  );
  return [
    {
      name: "issuance ecdsa-p256 node certificates (new key each, chosen)",
      value: await issuanceRate("ecdsa-p256"),
      unit: "certs/s",
    },
    {
      name: "issuance ecdsa-p256 client certificates (new key each)",
      value: 1000 / clientMs,
      unit: "certs/s",
    },
    {
      name: "issuance rsa-2048 node certificates (new key each)",
      value: await issuanceRate("rsa-2048"),
      unit: "certs/s",
    },
    {
      name: "issuance rsa-2048 node certificates, signing only (keys reused)",
      value: await issuanceRate("rsa-2048", pooledRsa),
      unit: "certs/s",
    },
    {
      name: "issuance rsa-2048 signed by node-forge (keys reused)",
      value: await forgeSigningRate(),
      unit: "certs/s",
    },
    ...(await keygenFigures()),
    ...(await reconcileFigures()),
  ];
}
