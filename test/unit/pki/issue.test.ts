import { describe, expect, it } from "vitest";
import { certificateInfo } from "../../../src/pki/certificate-info.ts";
import { generateCA, issueClientCertificate, issueNodeCertificate } from "../../../src/pki/issue.ts";
import { PrivateKey } from "../../../src/pki/keys.ts";
import { nodeSANs } from "../../../src/pki/names.ts";
import type { RenewalPolicy } from "../../../src/pki/policy.ts";
import { opensslCA, opensslFields, opensslText, opensslVerify } from "./openssl.ts";

const now = new Date("2030-01-01T00:00:00Z");
const day = 86_400_000;
const caPolicy: RenewalPolicy = {
  lifetimeMs: 5 * 365 * day,
  renewBeforeMs: undefined,
  clockSkewMs: 5 * 60_000,
};
const leafPolicy: RenewalPolicy = { lifetimeMs: 90 * day, renewBeforeMs: undefined, clockSkewMs: 5 * 60_000 };
const names = nodeSANs({
  services: [
    {
      namespace: "db",
      publicService: "crdb-public",
      headlessService: "crdb",
      clusterDomain: "cluster.local",
    },
  ],
  extraNames: ["sql.example.com", "10.0.0.7"],
});

describe.each(["ecdsa-p256", "rsa-2048"] as const)("with %s keys", (keyAlgorithm) => {
  it("generates a CA that may sign leaves only", async () => {
    const ca = await generateCA({
      commonName: "crdb CA 1",
      organization: "zitadel-operator",
      now,
      policy: caPolicy,
      keyAlgorithm,
    });
    const fields = opensslFields(ca.certificatePem, ["basicConstraints", "keyUsage", "extendedKeyUsage"]);
    expect(fields).toContain("subject=CN=crdb CA 1,O=zitadel-operator");
    expect(fields).toContain("issuer=CN=crdb CA 1,O=zitadel-operator");
    expect(fields).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(fields).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(fields).not.toContain("Extended Key Usage");
    expect(fields).toContain("notBefore=Dec 31 23:55:00 2029 GMT");
    expect(fields).toContain("notAfter=Dec 31 00:00:00 2034 GMT");
    expect(opensslVerify(ca.certificatePem, ca.certificatePem, { at: now }).ok).toBe(true);
    expect(ca.info.keyAlgorithm).toBe(keyAlgorithm);
  });

  it("issues a node certificate for CN=node with every name, server and client auth, that openssl verifies", async () => {
    const ca = await generateCA({ commonName: "crdb CA 1", now, policy: caPolicy, keyAlgorithm });
    const node = await issueNodeCertificate({ ca, names, now, policy: leafPolicy, keyAlgorithm });

    for (const purpose of ["sslserver", "sslclient"] as const) {
      const result = opensslVerify(node.certificatePem, ca.certificatePem, { at: now, purpose });
      expect(result.output).toContain("OK");
      expect(result.ok).toBe(true);
    }
    const fields = opensslFields(node.certificatePem, [
      "subjectAltName",
      "keyUsage",
      "extendedKeyUsage",
      "basicConstraints",
    ]);
    expect(fields).toContain("subject=CN=node\n");
    expect(fields).toContain(
      "DNS:localhost, DNS:crdb-public, DNS:crdb-public.db, DNS:crdb-public.db.svc, DNS:crdb-public.db.svc.cluster.local, " +
        "DNS:*.crdb, DNS:*.crdb.db, DNS:*.crdb.db.svc, DNS:*.crdb.db.svc.cluster.local, DNS:sql.example.com, " +
        "IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.0.7",
    );
    expect(fields).toMatch(
      /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/,
    );
    expect(fields).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    // keyEncipherment is for RSA key transport only.
    expect(fields).toMatch(
      keyAlgorithm === "rsa-2048"
        ? /Key Usage: critical\s+Digital Signature, Key Encipherment\n/
        : /Key Usage: critical\s+Digital Signature\n/,
    );
    expect(fields).toContain("notBefore=Dec 31 23:55:00 2029 GMT");
    expect(fields).toContain("notAfter=Apr  1 00:00:00 2030 GMT");
  });

  it("issues a client certificate with CN=<user> and client auth only", async () => {
    const ca = await generateCA({ commonName: "crdb CA 1", now, policy: caPolicy, keyAlgorithm });
    const client = await issueClientCertificate({
      ca,
      user: "zitadel",
      now,
      policy: leafPolicy,
      keyAlgorithm,
    });

    expect(
      opensslVerify(client.certificatePem, ca.certificatePem, { at: now, purpose: "sslclient" }).ok,
    ).toBe(true);
    expect(
      opensslVerify(client.certificatePem, ca.certificatePem, { at: now, purpose: "sslserver" }).ok,
    ).toBe(false);
    const fields = opensslFields(client.certificatePem, ["subjectAltName", "extendedKeyUsage"]);
    expect(fields).toContain("subject=CN=zitadel\n");
    expect(fields).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(fields).not.toContain("Subject Alternative Name");
  });
});

describe("issuance", () => {
  it("signs an ECDSA leaf with an RSA CA and the reverse", async () => {
    const rsaCA = await generateCA({ commonName: "rsa CA", now, policy: caPolicy, keyAlgorithm: "rsa-2048" });
    const ecLeaf = await issueClientCertificate({
      ca: rsaCA,
      user: "root",
      now,
      policy: leafPolicy,
      keyAlgorithm: "ecdsa-p256",
    });
    expect(opensslText(ecLeaf.certificatePem)).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(opensslVerify(ecLeaf.certificatePem, rsaCA.certificatePem, { at: now }).ok).toBe(true);

    const ecCA = await generateCA({ commonName: "ec CA", now, policy: caPolicy, keyAlgorithm: "ecdsa-p256" });
    const rsaLeaf = await issueClientCertificate({
      ca: ecCA,
      user: "root",
      now,
      policy: leafPolicy,
      keyAlgorithm: "rsa-2048",
    });
    expect(opensslText(rsaLeaf.certificatePem)).toContain("Signature Algorithm: ecdsa-with-SHA256");
    expect(opensslVerify(rsaLeaf.certificatePem, ecCA.certificatePem, { at: now }).ok).toBe(true);
  });

  it("signs with a CA made by openssl, copying its subject so chains build", async () => {
    for (const keyType of ["rsa:2048", "ec:P-384"] as const) {
      const made = opensslCA(keyType, "/C=CH/O=Example Corp/CN=Example Root");
      const key = PrivateKey.fromPem(made.key);
      if (!key) throw new Error("openssl key unreadable");
      const realNow = new Date();
      const leaf = await issueNodeCertificate({
        ca: { certificatePem: made.cert, key },
        names,
        now: realNow,
        policy: leafPolicy,
        keyAlgorithm: "ecdsa-p256",
      });
      expect(opensslVerify(leaf.certificatePem, made.cert, { purpose: "sslserver" }).ok).toBe(true);
      expect(leaf.info.issuer).toBe(certificateInfo(made.cert).subject);
      // Capped at the CA's expiry (30 days) although the policy asks for 90.
      expect(leaf.info.notAfter.getTime()).toBe(certificateInfo(made.cert).notAfter.getTime());
    }
  });

  it("never lets a leaf outlive its CA", async () => {
    const ca = await generateCA({
      commonName: "short",
      now,
      policy: { ...caPolicy, lifetimeMs: 10 * day },
      keyAlgorithm: "ecdsa-p256",
    });
    const leaf = await issueClientCertificate({
      ca,
      user: "root",
      now,
      policy: leafPolicy,
      keyAlgorithm: "ecdsa-p256",
    });
    expect(leaf.info.notAfter).toEqual(ca.info.notAfter);
  });

  it("gives every certificate a distinct positive serial of 16 bytes", async () => {
    const ca = await generateCA({ commonName: "CA", now, policy: caPolicy, keyAlgorithm: "ecdsa-p256" });
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const leaf = await issueClientCertificate({
        ca,
        user: "root",
        now,
        policy: leafPolicy,
        keyAlgorithm: "ecdsa-p256",
      });
      expect(leaf.info.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
      serials.add(leaf.info.serialNumber);
    }
    expect(serials.size).toBe(20);
  });
});
