import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Checks certificates with the openssl binary: an implementation independent of ours.

function withFiles<T>(files: Record<string, string>, run: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "pki-test-"));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface VerifyOptions {
  /** Check at this time instead of the real clock. */
  readonly at?: Date;
  /** sslserver or sslclient: also checks key usage and extended key usage for that role. */
  readonly purpose?: "sslserver" | "sslclient";
}

/** `openssl verify -x509_strict` of `leafPem` against the CAs in `bundlePem`. */
export function opensslVerify(
  leafPem: string,
  bundlePem: string,
  options: VerifyOptions = {},
): { ok: boolean; output: string } {
  return withFiles({ "leaf.crt": leafPem, "ca.crt": bundlePem }, (dir) => {
    const args = ["verify", "-x509_strict", "-CAfile", join(dir, "ca.crt")];
    if (options.at) args.push("-attime", String(Math.floor(options.at.getTime() / 1000)));
    if (options.purpose) args.push("-purpose", options.purpose);
    args.push(join(dir, "leaf.crt"));
    const result = spawnSync("openssl", args, { encoding: "utf8" });
    const output = `${result.stdout}${result.stderr}`;
    return { ok: result.status === 0 && output.includes(": OK"), output };
  });
}

/** `openssl x509 -noout -text`. */
export function opensslText(pem: string): string {
  return withFiles({ "c.crt": pem }, (dir) =>
    execFileSync("openssl", ["x509", "-noout", "-text", "-in", join(dir, "c.crt")], { encoding: "utf8" }),
  );
}

/** `openssl x509 -noout -ext <names>` plus subject, dates, serial and SHA-256 fingerprint. */
export function opensslFields(pem: string, extensions: readonly string[]): string {
  return withFiles({ "c.crt": pem }, (dir) =>
    execFileSync(
      "openssl",
      [
        "x509",
        "-noout",
        "-nameopt",
        "RFC2253",
        "-subject",
        "-issuer",
        "-startdate",
        "-enddate",
        "-serial",
        "-fingerprint",
        "-sha256",
        "-ext",
        extensions.join(","),
        "-in",
        join(dir, "c.crt"),
      ],
      { encoding: "utf8" },
    ),
  );
}

/** A CA made by openssl, as a user would bring one (spec.tls.caSecretRef). */
export function opensslCA(
  keyType: "rsa:2048" | "ec:P-384",
  subject: string,
  days = 30,
): { cert: string; key: string } {
  return withFiles({}, (dir) => {
    const keyArgs =
      keyType === "rsa:2048"
        ? ["-newkey", "rsa:2048"]
        : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"];
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        ...keyArgs,
        "-nodes",
        "-subj",
        subject,
        "-days",
        String(days),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        join(dir, "ca.key"),
        "-out",
        join(dir, "ca.crt"),
      ],
      { stdio: "pipe" },
    );
    return {
      cert: readFileSync(join(dir, "ca.crt"), "utf8"),
      key: readFileSync(join(dir, "ca.key"), "utf8"),
    };
  });
}
