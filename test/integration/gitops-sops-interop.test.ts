// Our SOPS implementation against the real tools: files the real sops encrypted (to keys made by the real
// age-keygen) decrypt with our code, and files we encrypt decrypt with the real sops and age.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import {
  decryptSopsFile,
  encryptSopsFile,
  KUBERNETES_ENCRYPTED_REGEX,
  parseAgeIdentities,
} from "../../src/gitops/sops.ts";
import { ensureAge, ensureSops, runTool } from "../fixtures/gitops/tools.ts";

const PLAIN = `apiVersion: v1
kind: Secret
metadata:
  name: zitadel-masterkey
  namespace: iam
type: Opaque
stringData:
  masterkey: x8Hq3pLw9ZkT2vB6nR4mJ7cY1sD5fG0a
  port: 26257
  ratio: 0.25
  enabled: false
  hosts:
    - db-0
    - db-1
---
apiVersion: v1
kind: Secret
metadata:
  name: second
stringData:
  token: another-secret-value
`;

describe("SOPS interoperability with the real sops and age", () => {
  let dir = "";
  let sops = "";
  let keyFile = "";
  let identities: string[] = [];
  let recipient = "";
  let otherIdentities: string[] = [];
  const sopsEnv = () => ({ SOPS_AGE_KEY_FILE: keyFile, SOPS_DISABLE_VERSION_CHECK: "1" });
  const plainDocs = parseAllDocuments(PLAIN).map((d) => d.toJS());

  beforeAll(async () => {
    sops = await ensureSops();
    const { ageKeygen } = await ensureAge();
    dir = await mkdtemp(join(tmpdir(), "sops-interop-"));
    keyFile = join(dir, "key.txt");
    await runTool(ageKeygen, ["-o", keyFile]);
    recipient = (await runTool(ageKeygen, ["-y", keyFile])).trim();
    identities = parseAgeIdentities(await readFile(keyFile, "utf8"));
    const otherFile = join(dir, "other.txt");
    await runTool(ageKeygen, ["-o", otherFile]);
    otherIdentities = parseAgeIdentities(await readFile(otherFile, "utf8"));
    await writeFile(join(dir, "plain.yaml"), PLAIN);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const sopsEncrypt = (...args: string[]) =>
    runTool(sops, ["encrypt", "--age", recipient, ...args, join(dir, "plain.yaml")], { env: sopsEnv() });

  it("the real sops reports the version we pinned", async () => {
    expect(await runTool(sops, ["--version", "--disable-version-check"])).toMatch(/sops 3\.10\.2/);
  });

  it("decrypts a multi-document file the real sops encrypted (everything encrypted)", async () => {
    const encrypted = await sopsEncrypt();
    expect(encrypted).not.toContain("x8Hq3pLw9ZkT2vB6nR4mJ7cY1sD5fG0a");
    expect(await decryptSopsFile(encrypted, { identities, file: "iam/secret.yaml" })).toEqual(plainDocs);
  });

  it("decrypts a file the real sops encrypted with --encrypted-regex, as Flux users do", async () => {
    const encrypted = await sopsEncrypt("--encrypted-regex", KUBERNETES_ENCRYPTED_REGEX);
    expect(parse(encrypted.split(/^---$/m)[0] ?? "").metadata.name).toBe("zitadel-masterkey");
    expect(await decryptSopsFile(encrypted, { identities, file: "s.yaml" })).toEqual(plainDocs);
  });

  it("decrypts a file the real sops encrypted with mac_only_encrypted set in .sops.yaml", async () => {
    const config = join(dir, "sops-config.yaml");
    await writeFile(
      config,
      `creation_rules:\n  - age: ${recipient}\n    encrypted_regex: "${KUBERNETES_ENCRYPTED_REGEX}"\n    mac_only_encrypted: true\n`,
    );
    const encrypted = await runTool(sops, ["--config", config, "encrypt", join(dir, "plain.yaml")], {
      env: sopsEnv(),
    });
    expect(parse(encrypted.split(/^---$/m)[0] ?? "").sops.mac_only_encrypted).toBe(true);
    expect(await decryptSopsFile(encrypted, { identities, file: "s.yaml" })).toEqual(plainDocs);
  });

  it("decrypts a JSON file the real sops encrypted", async () => {
    const json = join(dir, "config.json");
    await writeFile(
      json,
      JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", data: { a: "1", b: "two" } }),
    );
    const encrypted = await runTool(sops, ["encrypt", "--age", recipient, json], { env: sopsEnv() });
    expect(await decryptSopsFile(encrypted, { identities, file: "config.json" })).toEqual([
      { apiVersion: "v1", kind: "ConfigMap", data: { a: "1", b: "two" } },
    ]);
  });

  it("the real sops decrypts what we encrypted, both ways of choosing values", async () => {
    for (const encryptedRegex of [undefined, KUBERNETES_ENCRYPTED_REGEX]) {
      const ours = await encryptSopsFile(PLAIN, {
        recipients: [recipient],
        ...(encryptedRegex ? { encryptedRegex } : {}),
      });
      const file = join(dir, "ours.yaml");
      await writeFile(file, ours);
      const decrypted = await runTool(sops, ["decrypt", file], { env: sopsEnv() });
      expect(parseAllDocuments(decrypted).map((d) => d.toJS())).toEqual(plainDocs);
    }
  });

  it("the real age opens the data key we wrote for its recipient", async () => {
    const ours = parse((await encryptSopsFile(PLAIN, { recipients: [recipient] })).split(/^---$/m)[0] ?? "");
    const armored = join(dir, "datakey.age");
    await writeFile(armored, ours.sops.age[0].enc);
    const out = join(dir, "datakey.bin");
    await runTool("age", ["--decrypt", "-i", keyFile, "-o", out, armored]);
    expect((await readFile(out)).length).toBe(32);
  });

  it("refuses a file the real sops encrypted once a value is altered, and so does sops itself", async () => {
    const encrypted = await sopsEncrypt("--encrypted-regex", KUBERNETES_ENCRYPTED_REGEX);
    const tampered = encrypted.replace("name: second", "name: third");
    await expect(decryptSopsFile(tampered, { identities, file: "secret.yaml" })).rejects.toThrow(
      "secret.yaml: the SOPS MAC does not match",
    );
    const file = join(dir, "tampered.yaml");
    await writeFile(file, tampered);
    await expect(runTool(sops, ["decrypt", file], { env: sopsEnv() })).rejects.toThrow(/MAC mismatch/);
  });

  it("refuses a file the real sops encrypted when given the wrong key", async () => {
    const encrypted = await sopsEncrypt();
    await expect(
      decryptSopsFile(encrypted, { identities: otherIdentities, file: "secret.yaml" }),
    ).rejects.toThrow(
      `secret.yaml: none of the given age identities can decrypt the data key (recipients: ${recipient})`,
    );
  });
});
