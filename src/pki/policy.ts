import { formatDuration, parseDuration } from "./duration.ts";
import { DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, type KeyAlgorithm } from "./keys.ts";
import type { PkiProblem } from "./problem.ts";

/** spec.tls lifetimes as the user writes them; every field is optional. */
export interface TLSPolicySpec {
  readonly keyAlgorithm?: string;
  readonly caLifetime?: string;
  /** Start a CA rotation this long before the CA expires. Default: the last third of its lifetime. */
  readonly caRenewBefore?: string;
  readonly nodeLifetime?: string;
  readonly nodeRenewBefore?: string;
  readonly clientLifetime?: string;
  readonly clientRenewBefore?: string;
  /**
   * How long a new CA is trusted before leaves move to it, and how long the old one stays trusted after the last
   * leaf left it: the time every pod and client needs to pick up a changed ca.crt.
   */
  readonly caOverlap?: string;
  /** Certificates start this long before they are issued, so peers whose clocks lag still accept them. */
  readonly clockSkew?: string;
}

export interface RenewalPolicy {
  readonly lifetimeMs: number;
  /** Renew this long before notAfter; undefined renews after two thirds of the certificate's lifetime. */
  readonly renewBeforeMs: number | undefined;
  readonly clockSkewMs: number;
}

export interface TLSPolicy {
  readonly keyAlgorithm: KeyAlgorithm;
  readonly ca: RenewalPolicy;
  readonly node: RenewalPolicy;
  readonly client: RenewalPolicy;
  readonly caOverlapMs: number;
  readonly clockSkewMs: number;
}

/** Renewal point when no renew-before window is set: two thirds into the lifetime, a third left as slack. */
export const RENEW_AT_FRACTION = 2 / 3;

// Leaves live 90 days so that renewal runs within the first quarter after install, not for the first time a
// year later (the failure this operator exists to prevent), while a third of the lifetime (30 days) remains
// if the operator is down when renewal is due. The CA lives 5 years and rotates 20 months before expiry; a week
// of overlap gives clients outside the cluster time to fetch the new ca.crt.
export const DEFAULT_TLS_POLICY: Required<TLSPolicySpec> = {
  keyAlgorithm: DEFAULT_KEY_ALGORITHM,
  caLifetime: "43800h",
  caRenewBefore: "",
  nodeLifetime: "90d",
  nodeRenewBefore: "",
  clientLifetime: "90d",
  clientRenewBefore: "",
  caOverlap: "7d",
  clockSkew: "5m",
};

export type TLSPolicyResult =
  | { readonly ok: true; readonly policy: TLSPolicy }
  | ({ readonly ok: false } & PkiProblem);

/** Checks spec.tls and fills in defaults. The message names the offending field. */
export function resolveTLSPolicy(spec: TLSPolicySpec = {}): TLSPolicyResult {
  const problems: string[] = [];
  const keyAlgorithm = spec.keyAlgorithm ?? DEFAULT_TLS_POLICY.keyAlgorithm;
  if (!(KEY_ALGORITHMS as readonly string[]).includes(keyAlgorithm)) {
    problems.push(`keyAlgorithm "${keyAlgorithm}" is not one of ${KEY_ALGORITHMS.join(", ")}`);
  }
  const duration = (field: keyof TLSPolicySpec, min: number): number => {
    const text = spec[field] || DEFAULT_TLS_POLICY[field];
    const ms = parseDuration(text);
    if (ms === undefined) {
      problems.push(
        `${field} "${text}" is not a duration; write a number with a unit (d, h, m, s), e.g. 90d or 2160h`,
      );
      return Number.NaN;
    }
    if (ms < min) problems.push(`${field} must be at least ${formatDuration(min)}`);
    return ms;
  };
  const optionalDuration = (field: keyof TLSPolicySpec): number | undefined =>
    spec[field] ? duration(field, 1000) : undefined;

  const clockSkewMs = duration("clockSkew", 0);
  const caOverlapMs = duration("caOverlap", 1000);
  const renewal = (kind: "ca" | "node" | "client"): RenewalPolicy => {
    const lifetimeMs = duration(`${kind}Lifetime`, 1000);
    const renewBeforeMs = optionalDuration(`${kind}RenewBefore`);
    if (renewBeforeMs !== undefined && renewBeforeMs >= lifetimeMs) {
      problems.push(`${kind}RenewBefore must be shorter than ${kind}Lifetime`);
    }
    return { lifetimeMs, renewBeforeMs, clockSkewMs };
  };
  const ca = renewal("ca");
  const node = renewal("node");
  const client = renewal("client");

  // A rotation must finish its first overlap while the old CA is still valid.
  const caWindow = ca.renewBeforeMs ?? ca.lifetimeMs * (1 - RENEW_AT_FRACTION);
  if (caOverlapMs >= caWindow) {
    problems.push(
      `caOverlap must be shorter than the CA's renew-before window (${formatDuration(Math.round(caWindow))})`,
    );
  }
  for (const kind of ["node", "client"] as const) {
    if ((kind === "node" ? node : client).lifetimeMs > ca.lifetimeMs) {
      problems.push(`${kind}Lifetime must not exceed caLifetime`);
    }
  }

  if (problems.length > 0) {
    return { ok: false, reason: "InvalidTLSPolicy", message: `spec.tls: ${problems.join("; ")}` };
  }
  return {
    ok: true,
    policy: { keyAlgorithm: keyAlgorithm as KeyAlgorithm, ca, node, client, caOverlapMs, clockSkewMs },
  };
}
