import { joinPemCertificates } from "./bundle.ts";
import type { CertificateInfo } from "./certificate-info.ts";
import type { PrivateKey } from "./keys.ts";
import type { TLSPolicy } from "./policy.ts";
import { shouldRotateCA } from "./renewal.ts";

// CA rotation by overlap, so that no peer ever sees a certificate it does not trust:
//
//   steady             ca.crt = [active]            leaves signed by active
//   trusting-next      ca.crt = [next, active]      leaves still signed by active; waits caOverlap so every pod
//                                                   and client has the new ca.crt before any leaf depends on it
//   retiring-previous  ca.crt = [active, previous]  leaves are re-issued under the new active CA; the old one
//                                                   leaves ca.crt caOverlap after the last leaf moved off it
//
// Every transition is a pure function of the stored state, the leaves and `now`; the only clock is the phase
// start time stored in the CA Secret.

/** A CA certificate we trust, with its key when we hold it. */
export interface TrustedCA {
  readonly certificatePem: string;
  readonly info: CertificateInfo;
  readonly key: PrivateKey | undefined;
}

export interface TrustState {
  /** Signs leaves when its key is available. */
  readonly active: TrustedCA;
  /** Introduced by a rotation: trusted, becomes active after the overlap. */
  readonly next: TrustedCA | undefined;
  /** Replaced by a rotation: trusted until no leaf depends on them. Their keys are never kept. */
  readonly previous: readonly TrustedCA[];
  readonly phaseStartedAt: Date | undefined;
}

export type CARotationPhase = "steady" | "trusting-next" | "retiring-previous";

export function rotationPhase(state: TrustState): CARotationPhase {
  if (state.next !== undefined) return "trusting-next";
  if (state.previous.length > 0) return "retiring-previous";
  return "steady";
}

/** ca.crt for every leaf Secret: newest CA first (as CockroachDB's rotation guide orders it), then `extra`. */
export function trustBundle(state: TrustState, extraPems: readonly string[] = []): string {
  return joinPemCertificates([
    ...(state.next ? [state.next.certificatePem] : []),
    state.active.certificatePem,
    ...state.previous.map((ca) => ca.certificatePem),
    ...extraPems,
  ]);
}

/**
 * The CA that signs new leaves: the active one when we hold its key, else the next one. The second case arises
 * when a user swaps the CA they supply (the old key is gone) or the CA Secret was lost and rebuilt from ca.crt.
 */
export function signingCA(state: TrustState): SigningCA | undefined {
  if (hasKey(state.active)) return state.active;
  if (state.next && hasKey(state.next)) return state.next;
  return undefined;
}

/** A trusted CA whose key we hold. */
export type SigningCA = TrustedCA & { readonly key: PrivateKey };

function hasKey(ca: TrustedCA): ca is SigningCA {
  return ca.key !== undefined;
}

/** CAs a current leaf may be signed by without being re-issued. */
export function acceptedIssuers(state: TrustState): TrustedCA[] {
  return state.next ? [state.active, state.next] : [state.active];
}

export type CARotationStep =
  | { readonly step: "start"; readonly message: string }
  | { readonly step: "promote-next"; readonly message: string }
  | { readonly step: "retire-previous"; readonly message: string }
  | { readonly step: "none" /** when a step may become due */; readonly recheckAt: Date | undefined };

export interface CARotationInput {
  readonly state: TrustState;
  /** For each current leaf, the fingerprint of the CA that signed it (undefined when none of ours did). */
  readonly leafIssuers: readonly (string | undefined)[];
  readonly now: Date;
  readonly policy: TLSPolicy;
  /** True when the operator owns the CA and may generate its successor; false for a CA the user supplies. */
  readonly operatorManaged: boolean;
}

/** The next rotation step due at `now`, if any. Call again after applying a step: several may be due at once. */
export function planCARotation(input: CARotationInput): CARotationStep {
  const { state, now, policy } = input;
  const at = now.getTime();
  const since = (state.phaseStartedAt ?? now).getTime();

  if (state.next !== undefined) {
    // Promote after the overlap, and in any case halfway through what is left of the old CA's life, so that a
    // rotation started late (operator down, CA nearly expired) still moves the leaves before the old CA expires.
    const halfway = since + (state.active.info.notAfter.getTime() - since) / 2;
    const promoteAt = Math.min(since + policy.caOverlapMs, halfway);
    if (at >= promoteAt) {
      return {
        step: "promote-next",
        message: `the new CA ${state.next.info.fingerprint} has been trusted since ${iso(new Date(since))}; it now signs and every leaf is re-issued under it`,
      };
    }
    return { step: "none", recheckAt: new Date(Math.ceil(promoteAt)) };
  }

  let recheckAt: Date | undefined;
  if (state.previous.length > 0) {
    const previous = new Set(state.previous.map((ca) => ca.info.fingerprint));
    const onPrevious = input.leafIssuers.filter((fp) => fp !== undefined && previous.has(fp)).length;
    const retireAt = since + policy.caOverlapMs;
    if (onPrevious === 0 && at >= retireAt) {
      return {
        step: "retire-previous",
        message: `every leaf is signed by the active CA since ${iso(new Date(since))}; the old CA leaves ca.crt`,
      };
    }
    recheckAt = new Date(retireAt);
  }

  if (input.operatorManaged) {
    if (state.active.key === undefined) {
      return {
        step: "start",
        message: "the active CA's key is not available; a new CA is introduced alongside it",
      };
    }
    const decision = shouldRotateCA(state.active.info, now, policy.ca);
    if (decision.renew)
      return { step: "start", message: `${decision.message}; a new CA is introduced alongside it` };
    recheckAt = earliest(recheckAt, decision.recheckAt);
  }
  return { step: "none", recheckAt };
}

/** The state after `step`. `generated` is the new CA for a "start" step. */
export function applyCARotationStep(
  state: TrustState,
  step: CARotationStep,
  now: Date,
  generated?: TrustedCA,
): TrustState {
  switch (step.step) {
    case "start":
      if (generated === undefined) throw new Error("a start step needs the generated CA");
      return { ...state, next: generated, phaseStartedAt: now };
    case "promote-next":
      if (state.next === undefined) return state;
      return {
        active: state.next,
        next: undefined,
        previous: [withoutKey(state.active), ...state.previous],
        phaseStartedAt: now,
      };
    case "retire-previous":
      return { ...state, previous: [], phaseStartedAt: undefined };
    case "none":
      return state;
  }
}

/** Drops previous CAs that have expired: nothing can chain to them any more. */
export function dropExpiredPrevious(
  state: TrustState,
  now: Date,
): { state: TrustState; dropped: TrustedCA[] } {
  const dropped = state.previous.filter((ca) => ca.info.notAfter.getTime() <= now.getTime());
  if (dropped.length === 0) return { state, dropped };
  const previous = state.previous.filter((ca) => !dropped.includes(ca));
  return {
    state: {
      ...state,
      previous,
      phaseStartedAt: previous.length === 0 && !state.next ? undefined : state.phaseStartedAt,
    },
    dropped,
  };
}

/**
 * Follows the CA a user supplies (spec.tls.caSecretRef). When they replace it, the new CA is introduced with the
 * same overlap as an operator rotation: leaves signed by the old CA stay valid and trusted until it is promoted.
 * Keys come from the user's Secret only, never from our own state. `introduced` is true when the supplied CA is
 * new to us.
 */
export function adoptUserCA(
  state: TrustState | undefined,
  supplied: TrustedCA,
  hasLeaves: boolean,
  now: Date,
): { state: TrustState; introduced: boolean } {
  const fp = supplied.info.fingerprint;
  if (state === undefined) {
    return {
      state: { active: supplied, next: undefined, previous: [], phaseStartedAt: undefined },
      introduced: true,
    };
  }
  const previous = state.previous.filter((ca) => ca.info.fingerprint !== fp).map(withoutKey);
  if (state.active.info.fingerprint === fp) {
    // Back to the active CA mid-rotation: the abandoned next CA retires like any replaced CA.
    if (state.next) {
      return {
        state: {
          active: supplied,
          next: undefined,
          previous: [withoutKey(state.next), ...previous],
          phaseStartedAt: now,
        },
        introduced: false,
      };
    }
    return { state: { ...state, active: supplied, previous }, introduced: false };
  }
  if (state.next?.info.fingerprint === fp) {
    return {
      state: { ...state, active: withoutKey(state.active), next: supplied, previous },
      introduced: false,
    };
  }
  if (!hasLeaves) {
    // Nothing depends on the old CA yet, so there is nothing to overlap.
    return {
      state: { active: supplied, next: undefined, previous: [], phaseStartedAt: undefined },
      introduced: true,
    };
  }
  const replacedNext = state.next ? [withoutKey(state.next)] : [];
  return {
    state: {
      active: withoutKey(state.active),
      next: supplied,
      previous: [...replacedNext, ...previous],
      phaseStartedAt: now,
    },
    introduced: true,
  };
}

function withoutKey(ca: TrustedCA): TrustedCA {
  return ca.key === undefined ? ca : { ...ca, key: undefined };
}

function earliest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

function iso(date: Date): string {
  return date.toISOString();
}
