// Git credentials from a Secret, with Flux's key names so existing Secrets work unchanged:
// `identity` + `known_hosts` for SSH; `username` + `password`, or `bearerToken`, for HTTPS; `ca.crt` for a
// private certificate authority. Pure: the Secret's decoded data in, a credential description out.

export interface SshAuth {
  kind: "ssh";
  /** The private key (OpenSSH or PEM); never logged. */
  identity: string;
  /** Required: host keys are never trusted on first use. */
  knownHosts: string;
}

export interface HttpsAuth {
  kind: "https";
  username?: string;
  password?: string;
  bearerToken?: string;
  /** PEM bundle of extra certificate authorities. */
  caBundle?: string;
}

export type GitAuth = SshAuth | HttpsAuth;

export type AuthResult = { ok: true; auth: GitAuth | undefined } | { ok: false; message: string };

/**
 * Reads credentials for `url` from a Secret's data (already base64-decoded). Messages name the Secret keys that
 * are missing or unexpected, never their values.
 */
export function gitAuthFromSecret(
  url: string,
  data: Readonly<Record<string, string>> | undefined,
): AuthResult {
  const scheme = schemeOf(url);
  if (scheme === "ssh") {
    const identity = data?.identity;
    const knownHosts = data?.known_hosts;
    if (!knownHosts?.trim()) {
      return {
        ok: false,
        message:
          "ssh:// needs the server's host keys in the Secret key known_hosts (ssh-keyscan output checked out of " +
          "band); host keys are never trusted on first use",
      };
    }
    if (!identity?.trim())
      return { ok: false, message: "ssh:// needs a private key in the Secret key identity" };
    return { ok: true, auth: { kind: "ssh", identity, knownHosts } };
  }
  if (data === undefined) return { ok: true, auth: undefined };
  if (scheme === "http" || scheme === "https") {
    const auth: HttpsAuth = { kind: "https" };
    if (data.bearerToken) auth.bearerToken = data.bearerToken;
    if (data.username !== undefined) auth.username = data.username;
    if (data.password !== undefined) auth.password = data.password;
    if (data["ca.crt"]) auth.caBundle = data["ca.crt"];
    if (auth.bearerToken !== undefined && (auth.username !== undefined || auth.password !== undefined)) {
      return {
        ok: false,
        message: "set either bearerToken or username and password in the Secret, not both",
      };
    }
    if ((auth.username === undefined) !== (auth.password === undefined)) {
      return { ok: false, message: "the Secret needs both username and password" };
    }
    return { ok: true, auth };
  }
  return { ok: true, auth: undefined };
}

export function schemeOf(url: string): string {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? "";
}

/**
 * The URL as it may be shown and stored: no password anywhere, and for http(s) no userinfo at all (a token is
 * often written as the user name). SSH keeps its user name (ssh://git@host/...), which is not a secret.
 */
export function scrubUrl(url: string): string {
  if (schemeOf(url) === "ssh") return url.replace(/^(ssh:\/\/[^/@:]*):[^/@]*@/i, "$1@");
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

/** True when the URL itself carries a credential (any http(s) userinfo, or an SSH password). */
export function hasCredentialsInUrl(url: string): boolean {
  return scrubUrl(url) !== url;
}

/** Replaces every occurrence of the given secrets (and any userinfo in URLs) in a message. */
export function redact(message: string, secrets: readonly (string | undefined)[]): string {
  let out = message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1");
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join("[redacted]");
  }
  return out;
}
