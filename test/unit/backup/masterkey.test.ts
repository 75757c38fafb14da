import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { describe, expect, it } from "vitest";
import {
  checkMasterkeyInputs,
  decryptMasterkey,
  encryptMasterkey,
  masterkeyKeyId,
  sameMasterkey,
} from "../../../src/backup/masterkey.ts";

const MASTERKEY = "MasterkeyNeedsToHave32Characters";

describe("masterkey", () => {
  it("names a masterkey by a stable id that does not contain it", () => {
    const id = masterkeyKeyId(MASTERKEY);
    expect(id).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    expect(id).toBe(masterkeyKeyId(MASTERKEY));
    expect(id).not.toBe(masterkeyKeyId(MASTERKEY.toLowerCase()));
    expect(sameMasterkey(MASTERKEY, id)).toBe(true);
  });

  it("refuses a backup without a recipient, a malformed recipient, or a key that is not 32 characters", () => {
    expect(checkMasterkeyInputs(MASTERKEY, [])).toMatchObject({ ok: false, reason: "NoMasterkeyRecipient" });
    expect(checkMasterkeyInputs(MASTERKEY, ["age1nope"])).toMatchObject({
      ok: false,
      reason: "InvalidRecipient",
    });
    const short = checkMasterkeyInputs("short", ["x"]);
    expect(short).toMatchObject({ ok: false, reason: "InvalidMasterkey" });
    expect(JSON.stringify(short)).not.toContain('short"');
  });

  it("encrypts to the recipients, so only their identities recover it, checked against the key id", async () => {
    const identity = await generateX25519Identity();
    const recipient = await identityToRecipient(identity);
    expect(checkMasterkeyInputs(MASTERKEY, [recipient])).toEqual({ ok: true });
    const encrypted = await encryptMasterkey(MASTERKEY, [recipient]);
    expect(Buffer.from(encrypted).toString("latin1")).not.toContain(MASTERKEY);

    expect(await decryptMasterkey(encrypted, [identity], masterkeyKeyId(MASTERKEY))).toEqual({
      ok: true,
      masterkey: MASTERKEY,
    });
    const stranger = await generateX25519Identity();
    expect(await decryptMasterkey(encrypted, [stranger], masterkeyKeyId(MASTERKEY))).toMatchObject({
      ok: false,
      reason: "MasterkeyNotDecrypted",
    });
    expect(await decryptMasterkey(encrypted, [identity], masterkeyKeyId("x".repeat(32)))).toMatchObject({
      ok: false,
      reason: "MasterkeyMismatch",
    });
  });
});
