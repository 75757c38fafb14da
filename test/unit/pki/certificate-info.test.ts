import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { certificateInfo, InvalidCertificateError } from "../../../src/pki/certificate-info.ts";
import { generateCA, issueNodeCertificate } from "../../../src/pki/issue.ts";
import { generatePrivateKey, PrivateKey } from "../../../src/pki/keys.ts";
import type { RenewalPolicy } from "../../../src/pki/policy.ts";
import { opensslFields } from "./openssl.ts";

const now = new Date("2030-01-01T00:00:00Z");
const policy: RenewalPolicy = { lifetimeMs: 86_400_000, renewBeforeMs: undefined, clockSkewMs: 0 };

async function fixture() {
  const ca = await generateCA({
    commonName: "crdb CA 1",
    organization: "zitadel-operator",
    now,
    policy,
    keyAlgorithm: "ecdsa-p256",
  });
  const node = await issueNodeCertificate({
    ca,
    names: { dnsNames: ["localhost", "*.crdb.db"], ipAddresses: ["127.0.0.1", "fd00::1"] },
    now,
    policy,
    keyAlgorithm: "ecdsa-p256",
  });
  return { ca, node };
}

describe("certificateInfo", () => {
  it("reports what openssl reads from the certificate", async () => {
    const { ca, node } = await fixture();
    const info = certificateInfo(node.certificatePem);
    const fields = opensslFields(node.certificatePem, ["subjectKeyIdentifier"]);

    expect(info).toMatchObject({
      subject: "CN=node",
      commonName: "node",
      issuer: "O=zitadel-operator, CN=crdb CA 1",
      dnsNames: ["localhost", "*.crdb.db"],
      ipAddresses: ["127.0.0.1", "fd00::1"],
      notBefore: now,
      notAfter: new Date(now.getTime() + 86_400_000),
      isCA: false,
      keyUsage: ["digitalSignature"],
      extendedKeyUsage: ["serverAuth", "clientAuth"],
      publicKey: "ECDSA P-256",
      keyAlgorithm: "ecdsa-p256",
      authorityKeyId: ca.info.subjectKeyId,
    });
    expect(fields).toContain(`serial=${info.serialNumber}`);
    expect(fields).toContain(`sha256 Fingerprint=${info.fingerprint}`);
    expect(fields.replace(/:/g, "").toLowerCase()).toContain(info.subjectKeyId);
    expect(certificateInfo(ca.certificatePem)).toMatchObject({
      isCA: true,
      keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"],
    });
  });

  it("never contains a private key, even when the input holds one next to the certificate", async () => {
    const { node } = await fixture();
    const combined = `${node.key.toPem()}${node.certificatePem}`;
    const info = certificateInfo(combined);
    expect(JSON.stringify(info)).not.toContain("PRIVATE KEY");
    expect(inspect(info, { depth: 5 })).not.toContain("PRIVATE KEY");
    expect(info.subject).toBe("CN=node");
  });

  it("rejects input that is not a certificate without quoting it", async () => {
    const key = await generatePrivateKey("ecdsa-p256");
    const broken = "-----BEGIN CERTIFICATE-----\nTUlJQ0lq\n-----END CERTIFICATE-----\n";
    for (const input of [key.toPem(), broken, "garbage"]) {
      let error: unknown;
      try {
        certificateInfo(`${input}${key.toPem()}`);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidCertificateError);
      expect(String((error as Error).message)).not.toContain("PRIVATE KEY");
      expect(String((error as Error).message)).not.toContain("TUlJ");
      expect(inspect(error)).not.toContain("PRIVATE KEY");
    }
  });
});

describe("PrivateKey", () => {
  it("prints, inspects and serializes as a placeholder", async () => {
    const key = await generatePrivateKey("ecdsa-p256");
    expect(String(key)).toBe("[private key]");
    expect(`${key}`).toBe("[private key]");
    expect(JSON.stringify({ key })).toBe('{"key":"[private key]"}');
    expect(inspect({ key })).not.toContain("PRIVATE KEY");
    expect(key.toPem()).toContain("BEGIN PRIVATE KEY");
  });

  it("keeps the PEM it was read from, byte for byte", async () => {
    const sec1 = (await generatePrivateKey("ecdsa-p256")).keyObject
      .export({ type: "sec1", format: "pem" })
      .toString();
    expect(PrivateKey.fromPem(sec1)?.toPem()).toBe(sec1);
    expect(
      PrivateKey.fromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
    ).toBeUndefined();
  });
});
