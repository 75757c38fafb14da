import { describe, expect, it } from "vitest";
import { gitAuthFromSecret, hasCredentialsInUrl, redact, scrubUrl } from "../../../src/gitops/auth.ts";

describe("Git credentials from a Secret", () => {
  it("reads an SSH key with known_hosts", () => {
    expect(
      gitAuthFromSecret("ssh://git@host/repo.git", { identity: "KEY", known_hosts: "host ssh-ed25519 AAA" }),
    ).toEqual({
      ok: true,
      auth: { kind: "ssh", identity: "KEY", knownHosts: "host ssh-ed25519 AAA" },
    });
  });

  it("refuses SSH without known_hosts: no trust on first use", () => {
    const result = gitAuthFromSecret("ssh://git@host/repo.git", { identity: "KEY" });
    expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/known_hosts/) });
    expect(gitAuthFromSecret("ssh://git@host/repo.git", undefined)).toMatchObject({ ok: false });
  });

  it("reads a token or basic auth and a CA bundle for HTTPS, but not both kinds at once", () => {
    expect(gitAuthFromSecret("https://h/r.git", { bearerToken: "t", "ca.crt": "PEM" })).toEqual({
      ok: true,
      auth: { kind: "https", bearerToken: "t", caBundle: "PEM" },
    });
    expect(gitAuthFromSecret("https://h/r.git", { username: "u", password: "p" })).toEqual({
      ok: true,
      auth: { kind: "https", username: "u", password: "p" },
    });
    expect(gitAuthFromSecret("https://h/r.git", { bearerToken: "t", password: "p" })).toMatchObject({
      ok: false,
    });
    expect(gitAuthFromSecret("https://h/r.git", { username: "u" })).toMatchObject({ ok: false });
  });

  it("never shows a password or token from a URL or a message", () => {
    expect(scrubUrl("https://user:tok@git.example.com/r.git")).toBe("https://git.example.com/r.git");
    expect(scrubUrl("https://tok@git.example.com/r.git")).toBe("https://git.example.com/r.git");
    expect(scrubUrl("ssh://git@git.example.com/r.git")).toBe("ssh://git@git.example.com/r.git");
    expect(scrubUrl("ssh://git:pw@git.example.com/r.git")).toBe("ssh://git@git.example.com/r.git");
    expect(hasCredentialsInUrl("ssh://git@h/r.git")).toBe(false);
    expect(hasCredentialsInUrl("https://a:b@h/r.git")).toBe(true);
    expect(
      redact("fatal: unable to access 'https://u:p4ss@h/r.git': token abcd1234 rejected", ["abcd1234"]),
    ).toBe("fatal: unable to access 'https://h/r.git': token [redacted] rejected");
  });
});
