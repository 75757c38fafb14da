import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  decryptSopsFile,
  encryptSopsFile,
  isSopsDocument,
  KUBERNETES_ENCRYPTED_REGEX,
  parseAgeIdentities,
} from "../../../src/gitops/sops.ts";

const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: db # a comment that must not survive
stringData:
  password: hunter2
  port: 5432
  ratio: 1.5
  enabled: true
  empty: ""
  list: [a, 7]
  "1": numeric key keeps its place
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  plain_unencrypted: visible
`;

describe("SOPS files encrypted to age recipients", () => {
  let identity = "";
  let recipient = "";
  let otherIdentity = "";

  beforeAll(async () => {
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    otherIdentity = await generateX25519Identity();
  });

  it("decrypts what it encrypted, with types and order of documents kept", async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    expect(encrypted).not.toContain("hunter2");
    expect(encrypted).not.toContain("a comment");
    expect(encrypted).toContain("plain_unencrypted: visible");
    const docs = await decryptSopsFile(encrypted, { identities: [identity], file: "s.yaml" });
    expect(docs).toEqual([
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "db" },
        stringData: {
          password: "hunter2",
          port: 5432,
          ratio: 1.5,
          enabled: true,
          empty: "",
          list: ["a", 7],
          "1": "numeric key keeps its place",
        },
      },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "settings" },
        data: { plain_unencrypted: "visible" },
      },
    ]);
  });

  it("writes the sops block into every document, as sops does", async () => {
    const encrypted = await encryptSopsFile(SECRET, {
      recipients: [recipient],
      now: new Date("2026-01-02T03:04:05.678Z"),
    });
    const blocks = encrypted.split(/^---$/m).map((d) => parse(d).sops);
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toEqual(blocks[1]);
    expect(blocks[0]).toMatchObject({
      lastmodified: "2026-01-02T03:04:05Z",
      unencrypted_suffix: "_unencrypted",
    });
    expect(blocks[0].age[0].recipient).toBe(recipient);
    expect(blocks[0].age[0].enc).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
  });

  it("encrypts only data and stringData with the Kubernetes regex, keeping kind and metadata readable", async () => {
    const encrypted = await encryptSopsFile(SECRET, {
      recipients: [recipient],
      encryptedRegex: KUBERNETES_ENCRYPTED_REGEX,
    });
    const first = parse(encrypted.split(/^---$/m)[0] ?? "");
    expect(first.metadata).toEqual({ name: "db" });
    expect(first.stringData.password).toMatch(/^ENC\[AES256_GCM,data:.*,type:str\]$/);
    expect(first.stringData.port).toMatch(/type:int\]$/);
    expect(first.sops.encrypted_regex).toBe(KUBERNETES_ENCRYPTED_REGEX);
    const docs = await decryptSopsFile(encrypted, { identities: [identity], file: "s.yaml" });
    expect((docs[0] as { stringData: { password: string } }).stringData.password).toBe("hunter2");
  });

  it("any of several recipients can decrypt", async () => {
    const other = await identityToRecipient(otherIdentity);
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient, other] });
    await expect(
      decryptSopsFile(encrypted, { identities: [otherIdentity], file: "s.yaml" }),
    ).resolves.toHaveLength(2);
  });

  it("refuses a file whose value was changed, naming the file and the key path but not the value", async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const doc = parse(encrypted.split(/^---$/m)[0] ?? "");
    const tampered = encrypted.replace(
      doc.stringData.password,
      doc.stringData.port.replace("type:int", "type:str"),
    );
    const failure = decryptSopsFile(tampered, { identities: [identity], file: "secrets/db.yaml" });
    await expect(failure).rejects.toThrow(
      /^secrets\/db\.yaml: the value at stringData\.password cannot be decrypted/,
    );
  });

  it("refuses a file whose plaintext value was changed or a value removed: the MAC no longer matches", async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const edited = encrypted.replace("plain_unencrypted: visible", "plain_unencrypted: changed");
    await expect(decryptSopsFile(edited, { identities: [identity], file: "f.yaml" })).rejects.toThrow(
      "f.yaml: the SOPS MAC does not match: the file was changed after it was encrypted",
    );
    const removed = encrypted.replace(/^ {2}enabled: .*\n/m, "");
    expect(removed).not.toBe(encrypted);
    await expect(decryptSopsFile(removed, { identities: [identity], file: "f.yaml" })).rejects.toThrow(
      /MAC does not match/,
    );
  });

  it("refuses a file whose MAC was replaced", async () => {
    const a = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const macOf = (text: string) => /mac: (ENC\[[^\]]+\])/.exec(text)?.[1] ?? "";
    const b = await encryptSopsFile(SECRET.replace("hunter2", "hunter3"), { recipients: [recipient] });
    const swapped = a.split(macOf(a)).join(macOf(b));
    await expect(decryptSopsFile(swapped, { identities: [identity], file: "f.yaml" })).rejects.toThrow(
      /f\.yaml: the SOPS MAC/,
    );
  });

  it("says which recipients the file is for when the key is wrong, without printing any key", async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    const failure = decryptSopsFile(encrypted, { identities: [otherIdentity], file: "f.yaml" });
    await expect(failure).rejects.toThrow(
      `f.yaml: none of the given age identities can decrypt the data key (recipients: ${recipient})`,
    );
    const message = await failure.catch((err: Error) => err.message);
    expect(message).not.toContain(otherIdentity);
    await expect(
      decryptSopsFile(encrypted, { identities: ["AGE-SECRET-KEY-1NOTAKEY"], file: "f.yaml" }),
    ).rejects.toThrow("an age identity is malformed");
  });

  it("refuses to encrypt a file twice", async () => {
    const encrypted = await encryptSopsFile(SECRET, { recipients: [recipient] });
    await expect(encryptSopsFile(encrypted, { recipients: [recipient] })).rejects.toThrow(
      /already encrypted/,
    );
  });

  it("recognises SOPS documents and reads identity files", () => {
    expect(isSopsDocument({ a: 1, sops: {} })).toBe(true);
    expect(isSopsDocument({ a: 1 })).toBe(false);
    expect(
      parseAgeIdentities("# created: x\n# public key: age1abc\nAGE-SECRET-KEY-1XYZ\n\nAGE-SECRET-KEY-1ABC\n"),
    ).toEqual(["AGE-SECRET-KEY-1XYZ", "AGE-SECRET-KEY-1ABC"]);
  });
});
