import { X509Certificate } from "node:crypto";
import { isSignedBy, splitPemCertificates } from "./bundle.ts";
import {
  acceptedIssuers,
  adoptUserCA,
  applyCARotationStep,
  type CARotationPhase,
  dropExpiredPrevious,
  planCARotation,
  rotationPhase,
  type SigningCA,
  signingCA,
  type TrustedCA,
  type TrustState,
  trustBundle,
} from "./ca-rotation.ts";
import { type CertificateInfo, certificateInfo } from "./certificate-info.ts";
import { formatDuration } from "./duration.ts";
import { generateCA, issueClientCertificate, issueNodeCertificate, NODE_COMMON_NAME } from "./issue.ts";
import { generatePrivateKey, type KeyAlgorithm, type KeyGenerator, PrivateKey } from "./keys.ts";
import { invalidNames, type SubjectAltNames } from "./names.ts";
import type { RenewalPolicy, TLSPolicy } from "./policy.ts";
import type { PkiProblem } from "./problem.ts";
import { type RenewalDecision, shouldRenew, shouldRotateCA } from "./renewal.ts";
import {
  CA_BUNDLE_KEY,
  CA_SECRET_KEYS,
  caSecretData,
  clientCertKey,
  clientKeyKey,
  clientSecretData,
  NODE_CERT_KEY,
  NODE_KEY_KEY,
  nodeSecretData,
  type SecretData,
} from "./secret-layout.ts";
import { type ExtendedKeyUsage, signatureAlgorithmFor } from "./sign-certificate.ts";

/** What the cluster's spec asks for, resolved by the caller. */
export interface TLSSpec {
  readonly clusterName: string;
  readonly policy: TLSPolicy;
  /** nodeSANs(...) of this cluster and every cross-cluster region. */
  readonly nodeNames: SubjectAltNames;
  /** SQL users that get a client certificate: root, the IAM server's user, spec.users[]. */
  readonly clientUsers: readonly string[];
  /**
   * Name of the Secret in spec.tls.caSecretRef when the user supplies the CA; its data comes in
   * CurrentTLSSecrets.suppliedCA. Must differ from our own CA Secret, which then only records rotation state.
   */
  readonly suppliedCASecretName?: string;
}

/** The Secrets as they are now (decoded text values); undefined where a Secret does not exist. */
export interface CurrentTLSSecrets {
  readonly ca?: SecretData;
  readonly suppliedCA?: SecretData;
  readonly node?: SecretData;
  readonly clients?: Readonly<Record<string, SecretData | undefined>>;
}

export interface TLSSecretsData {
  readonly ca: SecretData;
  readonly node: SecretData;
  readonly clients: Readonly<Record<string, SecretData>>;
}

export type TLSActionKind =
  | "generated"
  | "issued"
  | "renewed"
  | "rotation-started"
  | "promoted"
  | "retired"
  | "dropped-expired"
  | "adopted";

/** One thing desiredSecretData did, worded for an Event. */
export interface TLSAction {
  /** "ca", "next-ca", "node" or "client.<user>". */
  readonly certificate: string;
  readonly action: TLSActionKind;
  readonly message: string;
}

/** For the CockroachCluster status: what an operator on call wants to know about certificates. */
export interface TLSStatus {
  readonly caRotationPhase: CARotationPhase;
  readonly caRotationPhaseSince: string | undefined;
  /** SHA-256 fingerprint of the CA that signs new leaves. */
  readonly signingCA: string;
  /** notAfter (RFC 3339) per file: ca.crt, next-ca.crt during a rotation, node.crt, client.<user>.crt. */
  readonly expirations: Readonly<Record<string, string>>;
}

export type DesiredSecretDataResult =
  | {
      readonly ok: true;
      readonly secrets: TLSSecretsData;
      /** Which Secrets differ from `current`: write these; SIGHUP CockroachDB when node changed. */
      readonly changed: { readonly ca: boolean; readonly node: boolean; readonly clients: readonly string[] };
      readonly actions: readonly TLSAction[];
      readonly warnings: readonly PkiProblem[];
      /** The earliest moment something may be due; requeue after `nextCheckAt - now`. */
      readonly nextCheckAt: Date;
      readonly status: TLSStatus;
    }
  | ({ readonly ok: false } & PkiProblem);

// CockroachDB user names: lower-case letters, digits, "_", "-" and "."; the name is also part of the file name
// client.<user>.crt and of a Secret key, which allow the same characters.
const USER_NAME = /^[a-z0-9_][a-z0-9_.-]{0,62}$/;
const CA_ORGANIZATION = "zitadel-operator";
const MAX_ROTATION_STEPS = 4;

/**
 * The whole certificate state a CockroachCluster should have at `now`, given what exists. Creates the CA when
 * there is none, moves rotations along, issues missing leaves and renews those that are due, and says what it
 * did and when to look again. Deterministic in `now` apart from new keys and serials: given its own output and
 * the same `now` it changes nothing.
 */
export async function desiredSecretData(
  current: CurrentTLSSecrets | undefined,
  spec: TLSSpec,
  now: Date,
  keygen: KeyGenerator = generatePrivateKey,
): Promise<DesiredSecretDataResult> {
  const invalid = validate(spec);
  if (invalid) return { ok: false, ...invalid };
  const { policy } = spec;
  const actions: TLSAction[] = [];
  const warnings: PkiProblem[] = [];
  const newCA = async (): Promise<TrustedCA> => {
    const issued = await generateCA({
      commonName: `${spec.clusterName.slice(0, 40)} CA ${compactTime(now)}`,
      organization: CA_ORGANIZATION,
      now,
      policy: policy.ca,
      keyAlgorithm: policy.keyAlgorithm,
      keygen,
    });
    return { certificatePem: issued.certificatePem, info: issued.info, key: issued.key };
  };

  const leaves = observeLeaves(current, spec);

  // The CA: supplied by the user, stored by us, rebuilt from ca.crt after a loss, or new.
  const operatorManaged = spec.suppliedCASecretName === undefined;
  const loaded = await loadTrustState(current, spec, leaves, now, newCA, { actions, warnings });
  if (!loaded.ok) return loaded;
  let state = loaded.state;

  const expired = dropExpiredPrevious(state, now);
  state = expired.state;
  for (const ca of expired.dropped) {
    actions.push({
      certificate: "ca",
      action: "dropped-expired",
      message: `CA ${ca.info.fingerprint} expired at ${iso(ca.info.notAfter)} and left ca.crt`,
    });
  }
  if (rotationPhase(state) !== "steady" && state.phaseStartedAt === undefined)
    state = { ...state, phaseStartedAt: now };

  // Move a rotation along; several steps can be due at once (an expired CA is replaced without waiting).
  for (let i = 0; i < MAX_ROTATION_STEPS; i++) {
    const step = planCARotation({
      state,
      leafIssuers: leafIssuers(leaves, state),
      now,
      policy,
      operatorManaged,
    });
    if (step.step === "none") break;
    const generated = step.step === "start" ? await newCA() : undefined;
    state = applyCARotationStep(state, step, now, generated);
    actions.push(rotationAction(step.step, step.message, generated));
  }

  // Leaves.
  const signer = signingCA(state);
  const previous = new Set(state.previous.map((ca) => ca.info.fingerprint));
  let movedOffPrevious = false;
  const rechecks: Date[] = [];
  for (const leaf of leaves) {
    const decision = leafDecision(leaf, state, now, signer, policy.keyAlgorithm);
    if (!decision.renew) {
      rechecks.push(decision.recheckAt);
      continue;
    }
    if (signer === undefined) {
      return {
        ok: false,
        reason: "CAKeyUnavailable",
        message: `${leaf.name} must be ${leaf.observed.kind === "missing" ? "issued" : "renewed"} but no CA key is available`,
      };
    }
    const common = { ca: signer, now, policy: leaf.policy, keyAlgorithm: policy.keyAlgorithm, keygen };
    const issued =
      leaf.user === undefined
        ? await issueNodeCertificate({ ...common, names: leaf.names })
        : await issueClientCertificate({ ...common, user: leaf.user });
    if (leaf.observed.kind === "ok") {
      const fp = issuerFingerprint(leaf.observed.certificatePem, state);
      if (fp !== undefined && previous.has(fp)) movedOffPrevious = true;
    }
    actions.push({
      certificate: leaf.name,
      action: leaf.observed.kind === "missing" ? "issued" : "renewed",
      message:
        leaf.observed.kind === "missing"
          ? `issued ${leaf.name}, valid until ${iso(issued.info.notAfter)}`
          : `renewed ${leaf.name} (${decision.reason}: ${decision.message}), valid until ${iso(issued.info.notAfter)}`,
    });
    leaf.observed = { kind: "ok", certificatePem: issued.certificatePem, key: issued.key, info: issued.info };
    const fresh = leafDecision(leaf, state, now, signer, policy.keyAlgorithm);
    if (!fresh.renew) rechecks.push(fresh.recheckAt);
  }
  if (movedOffPrevious && rotationPhase(state) === "retiring-previous")
    state = { ...state, phaseStartedAt: now };

  // When to look again: the earliest renewal, rotation step, expiry of a trusted CA, or supplied-CA warning.
  const after = planCARotation({
    state,
    leafIssuers: leafIssuers(leaves, state),
    now,
    policy,
    operatorManaged,
  });
  rechecks.push(after.step === "none" ? (after.recheckAt ?? farFuture(now)) : new Date(now.getTime() + 1000));
  for (const ca of state.previous) rechecks.push(ca.info.notAfter);
  if (!operatorManaged) {
    const ca = signingCA(state) ?? state.active;
    const rotate = shouldRotateCA(ca.info, now, policy.ca);
    if (rotate.renew) {
      warnings.push({
        reason: "SuppliedCAExpiring",
        message: `${rotate.message}: put a new CA certificate and key into Secret ${spec.suppliedCASecretName}; leaves move to it after ${formatDuration(policy.caOverlapMs)} of overlap`,
      });
    } else {
      rechecks.push(rotate.recheckAt);
    }
  }
  const nextCheckAt = new Date(Math.max(now.getTime() + 1000, Math.min(...rechecks.map((d) => d.getTime()))));

  // Build the Secrets.
  const bundle = trustBundle(state, loaded.extraTrusted);
  const secrets: TLSSecretsData = {
    ca: caSecretData({
      certificatePem: state.active.certificatePem,
      key: operatorManaged ? state.active.key : undefined,
      next: state.next && {
        certificatePem: state.next.certificatePem,
        key: operatorManaged ? state.next.key : undefined,
      },
      previousPems: state.previous.map((ca) => ca.certificatePem),
      phaseStartedAt: state.phaseStartedAt,
    }),
    node: nodeSecretData(okLeaf(leaves[0]), bundle),
    clients: Object.fromEntries(
      leaves.flatMap((leaf) =>
        leaf.user === undefined ? [] : [[leaf.user, clientSecretData(leaf.user, okLeaf(leaf), bundle)]],
      ),
    ),
  };

  const expirations: Record<string, string> = { [CA_BUNDLE_KEY]: iso(state.active.info.notAfter) };
  if (state.next) expirations[CA_SECRET_KEYS.nextCertificate] = iso(state.next.info.notAfter);
  for (const leaf of leaves) expirations[`${leaf.name}.crt`] = iso(okLeaf(leaf).info.notAfter);

  return {
    ok: true,
    secrets,
    changed: {
      ca: !sameData(current?.ca, secrets.ca),
      node: !sameData(current?.node, secrets.node),
      clients: spec.clientUsers.filter((user) => !sameData(current?.clients?.[user], secrets.clients[user])),
    },
    actions,
    warnings,
    nextCheckAt,
    status: {
      caRotationPhase: rotationPhase(state),
      caRotationPhaseSince: state.phaseStartedAt && iso(state.phaseStartedAt),
      signingCA: (signingCA(state) ?? state.active).info.fingerprint,
      expirations,
    },
  };
}

type ObservedLeaf =
  | { readonly kind: "missing" }
  | { readonly kind: "unreadable"; readonly why: string }
  | {
      readonly kind: "ok";
      readonly certificatePem: string;
      readonly key: PrivateKey;
      readonly info: CertificateInfo;
    };

interface LeafSlot {
  readonly name: string;
  readonly user?: string;
  readonly commonName: string;
  readonly names: SubjectAltNames;
  readonly usage: readonly ExtendedKeyUsage[];
  readonly policy: RenewalPolicy;
  observed: ObservedLeaf;
}

function okLeaf(leaf: LeafSlot | undefined): {
  certificatePem: string;
  key: PrivateKey;
  info: CertificateInfo;
} {
  if (leaf?.observed.kind !== "ok") throw new Error(`${leaf?.name} was not issued`);
  return leaf.observed;
}

/** The node certificate first, then one client certificate per SQL user, as found in the current Secrets. */
function observeLeaves(current: CurrentTLSSecrets | undefined, spec: TLSSpec): LeafSlot[] {
  const { policy } = spec;
  return [
    {
      name: "node",
      commonName: NODE_COMMON_NAME,
      names: spec.nodeNames,
      usage: ["serverAuth", "clientAuth"],
      policy: policy.node,
      observed: readLeaf(current?.node, NODE_CERT_KEY, NODE_KEY_KEY),
    },
    ...spec.clientUsers.map(
      (user): LeafSlot => ({
        name: `client.${user}`,
        user,
        commonName: user,
        names: { dnsNames: [], ipAddresses: [] },
        usage: ["clientAuth"],
        policy: policy.client,
        observed: readLeaf(current?.clients?.[user], clientCertKey(user), clientKeyKey(user)),
      }),
    ),
  ];
}

interface Journal {
  readonly actions: TLSAction[];
  readonly warnings: PkiProblem[];
}

/** Where the CA comes from: the user's Secret, our CA Secret, the ca.crt of running leaves, or a new one. */
async function loadTrustState(
  current: CurrentTLSSecrets | undefined,
  spec: TLSSpec,
  leaves: readonly LeafSlot[],
  now: Date,
  newCA: () => Promise<TrustedCA>,
  record: Journal,
): Promise<Read<{ state: TrustState; extraTrusted: string[] }>> {
  const stored =
    current?.ca === undefined ? undefined : readCASecret(current.ca, spec.suppliedCASecretName === undefined);
  if (stored && !stored.ok) return stored;
  if (spec.suppliedCASecretName !== undefined) {
    const supplied = readSuppliedCA(current?.suppliedCA, spec.suppliedCASecretName, now);
    if (!supplied.ok) return supplied;
    const hasLeaves = leaves.some((leaf) => leaf.observed.kind === "ok");
    const adopted = adoptUserCA(stored?.state, supplied.ca, hasLeaves, now);
    if (adopted.introduced) {
      record.actions.push({
        certificate: "ca",
        action: "adopted",
        message: `using CA ${supplied.ca.info.fingerprint} from Secret ${spec.suppliedCASecretName}${
          adopted.state.next ? "; it becomes the signing CA after the overlap" : ""
        }`,
      });
    }
    return { ok: true, state: adopted.state, extraTrusted: supplied.extras };
  }
  if (stored) return { ok: true, state: stored.state, extraTrusted: [] };
  const recovered = recoverFromLeaves(current, leaves);
  if (recovered) {
    record.warnings.push({
      reason: "CASecretMissing",
      message: `the CA Secret is gone; CA ${recovered.active.info.fingerprint} found in ca.crt stays trusted while a new CA replaces it`,
    });
    return { ok: true, state: recovered, extraTrusted: [] };
  }
  const ca = await newCA();
  record.actions.push({
    certificate: "ca",
    action: "generated",
    message: `generated CA ${ca.info.fingerprint}`,
  });
  return {
    ok: true,
    state: { active: ca, next: undefined, previous: [], phaseStartedAt: undefined },
    extraTrusted: [],
  };
}

function validate(spec: TLSSpec): PkiProblem | undefined {
  const badUsers = spec.clientUsers.filter((user) => !USER_NAME.test(user));
  if (badUsers.length > 0) {
    return {
      reason: "InvalidUserName",
      message: `SQL user names ${badUsers.map((u) => JSON.stringify(u)).join(", ")} are invalid: use lower-case letters, digits, "_", "-" and "." (at most 63)`,
    };
  }
  const duplicates = spec.clientUsers.filter((user, i) => spec.clientUsers.indexOf(user) !== i);
  if (duplicates.length > 0) {
    return {
      reason: "DuplicateUserName",
      message: `SQL users listed twice: ${[...new Set(duplicates)].join(", ")}`,
    };
  }
  const badNames = invalidNames([...spec.nodeNames.dnsNames, ...spec.nodeNames.ipAddresses]);
  if (badNames.length > 0) {
    return {
      reason: "InvalidSubjectAltName",
      message: `node certificate names ${badNames.map((n) => JSON.stringify(n)).join(", ")} are neither DNS names nor IP addresses`,
    };
  }
  if (spec.suppliedCASecretName !== undefined && spec.suppliedCASecretName === "") {
    return { reason: "InvalidCASecretRef", message: "spec.tls.caSecretRef names no Secret" };
  }
  return undefined;
}

function readLeaf(data: SecretData | undefined, certKey: string, keyKey: string): ObservedLeaf {
  const certText = data?.[certKey];
  const keyText = data?.[keyKey];
  if (certText === undefined && keyText === undefined) return { kind: "missing" };
  if (!certText || !keyText) return { kind: "unreadable", why: `${certText ? keyKey : certKey} is missing` };
  const info = readableInfo(certText);
  if (info === undefined) return { kind: "unreadable", why: `${certKey} is not a readable certificate` };
  const key = PrivateKey.fromPem(keyText);
  if (!key) return { kind: "unreadable", why: `${keyKey} is not a readable private key` };
  if (!matches(certText, key)) return { kind: "unreadable", why: `${keyKey} does not belong to ${certKey}` };
  return { kind: "ok", certificatePem: certText, key, info };
}

function leafDecision(
  leaf: LeafSlot,
  state: TrustState,
  now: Date,
  signer: SigningCA | undefined,
  keyAlgorithm: KeyAlgorithm,
): RenewalDecision {
  const observed = leaf.observed;
  if (observed.kind === "missing") return { renew: true, reason: "missing", message: "missing" };
  if (observed.kind === "unreadable") return { renew: true, reason: "unreadable", message: observed.why };
  const accepted = acceptedIssuers(state);
  const fp = issuerFingerprint(observed.certificatePem, state);
  if (!accepted.some((ca) => ca.info.fingerprint === fp)) {
    return {
      renew: true,
      reason: "issuer-not-active",
      message: fp ? `signed by CA ${fp}, which no longer signs` : "not signed by a trusted CA",
    };
  }
  return shouldRenew(observed.info, now, leaf.policy, {
    commonName: leaf.commonName,
    dnsNames: leaf.names.dnsNames,
    ipAddresses: leaf.names.ipAddresses,
    extendedKeyUsage: leaf.usage,
    keyAlgorithm,
    acceptedIssuers: accepted.map((ca) => ca.info),
    notAfterLimit: signer?.info.notAfter,
  });
}

/** The fingerprint of the trusted CA whose signature is on the leaf. */
function issuerFingerprint(certificatePem: string, state: TrustState): string | undefined {
  const cas = [state.active, ...(state.next ? [state.next] : []), ...state.previous];
  return cas.find((ca) => isSignedBy(certificatePem, ca.certificatePem))?.info.fingerprint;
}

function leafIssuers(leaves: readonly LeafSlot[], state: TrustState): (string | undefined)[] {
  return leaves.map((leaf) =>
    leaf.observed.kind === "ok" ? issuerFingerprint(leaf.observed.certificatePem, state) : undefined,
  );
}

/** certificateInfo, or undefined for Secret contents that are not a readable certificate. */
function readableInfo(pem: string): CertificateInfo | undefined {
  try {
    return certificateInfo(pem);
  } catch {
    return undefined;
  }
}

function matches(certificatePem: string, key: PrivateKey): boolean {
  try {
    return new X509Certificate(certificatePem).checkPrivateKey(key.keyObject);
  } catch {
    return false;
  }
}

type Read<T> = ({ readonly ok: true } & T) | ({ readonly ok: false } & PkiProblem);

/** Our CA Secret. Keys are only read when we own the CA; a key that does not match its certificate is an error. */
function readCASecret(data: SecretData, withKeys: boolean): Read<{ state: TrustState }> {
  const invalid = (detail: string) => ({
    ok: false as const,
    reason: "CASecretInvalid",
    message: `CA Secret: ${detail}`,
  });
  const read = (certKey: string, keyKey: string): Read<{ ca: TrustedCA | undefined }> => {
    const certText = data[certKey];
    if (certText === undefined) return { ok: true, ca: undefined };
    const pem = splitPemCertificates(certText)[0];
    if (pem === undefined) return invalid(`${certKey} holds no certificate`);
    const info = readableInfo(pem);
    if (info === undefined) return invalid(`${certKey} is not a readable certificate`);
    const keyText = withKeys ? data[keyKey] : undefined;
    if (keyText === undefined) return { ok: true, ca: { certificatePem: pem, info, key: undefined } };
    const key = PrivateKey.fromPem(keyText);
    if (!key) return invalid(`${keyKey} is not a readable private key`);
    if (!matches(pem, key)) return invalid(`${keyKey} does not belong to ${certKey}`);
    return { ok: true, ca: { certificatePem: pem, info, key } };
  };
  const active = read(CA_SECRET_KEYS.certificate, CA_SECRET_KEYS.key);
  if (!active.ok) return active;
  if (active.ca === undefined) {
    return invalid(
      `the Secret exists but has no ${CA_SECRET_KEYS.certificate}; the operator never replaces an existing CA Secret, delete it to start over`,
    );
  }
  const next = read(CA_SECRET_KEYS.nextCertificate, CA_SECRET_KEYS.nextKey);
  if (!next.ok) return next;
  const previous: TrustedCA[] = [];
  for (const pem of splitPemCertificates(data[CA_SECRET_KEYS.previousCertificates] ?? "")) {
    const info = readableInfo(pem);
    if (info === undefined)
      return invalid(`${CA_SECRET_KEYS.previousCertificates} holds an unreadable certificate`);
    previous.push({ certificatePem: pem, info, key: undefined });
  }
  const since = Date.parse(data[CA_SECRET_KEYS.phaseStartedAt] ?? "");
  return {
    ok: true,
    state: {
      active: active.ca,
      next: next.ca,
      previous,
      phaseStartedAt: Number.isNaN(since) ? undefined : new Date(since),
    },
  };
}

/** The CA in the user's Secret: ca.crt/ca.key (CockroachDB names) or tls.crt/tls.key (cert-manager names). */
function readSuppliedCA(
  data: SecretData | undefined,
  name: string,
  now: Date,
): Read<{ ca: TrustedCA; extras: string[] }> {
  const invalid = (reason: string, detail: string) => ({
    ok: false as const,
    reason,
    message: `Secret ${name}: ${detail}`,
  });
  if (data === undefined) return invalid("CASecretNotFound", "not found (spec.tls.caSecretRef)");
  const pems = [
    ...splitPemCertificates(data["ca.crt"] ?? ""),
    ...splitPemCertificates(data["tls.crt"] ?? ""),
  ];
  if (pems.length === 0) return invalid("CASecretInvalid", "has no certificate in ca.crt or tls.crt");
  const keyText = data["ca.key"] ?? data["tls.key"];
  if (keyText === undefined) return invalid("CASecretInvalid", "has no ca.key or tls.key");
  const key = PrivateKey.fromPem(keyText);
  if (!key) return invalid("CASecretInvalid", "the CA key is not an unencrypted PEM private key");
  const pem = pems.find((candidate) => matches(candidate, key));
  if (pem === undefined)
    return invalid("CASecretInvalid", "no certificate in ca.crt or tls.crt belongs to the CA key");
  const info = readableInfo(pem);
  if (info === undefined) return invalid("CASecretInvalid", "the CA certificate could not be parsed");
  if (!info.isCA)
    return invalid("CASecretInvalid", `certificate ${info.subject} is not a CA (basicConstraints CA:TRUE)`);
  if (signatureAlgorithmFor(key.keyObject) === undefined) {
    return invalid(
      "CASecretInvalid",
      `a ${info.publicKey} CA key cannot sign certificates CockroachDB accepts`,
    );
  }
  if (info.notAfter.getTime() <= now.getTime()) {
    return invalid("CAExpired", `CA ${info.subject} expired at ${iso(info.notAfter)}; supply a new one`);
  }
  return { ok: true, ca: { certificatePem: pem, info, key }, extras: pems.filter((p) => p !== pem) };
}

/**
 * After the CA Secret was deleted: the CA that signed the running node certificate is still in ca.crt. Keep
 * trusting it (without its key) so the cluster keeps working while a new CA is introduced with the usual overlap.
 */
function recoverFromLeaves(
  current: CurrentTLSSecrets | undefined,
  leaves: readonly LeafSlot[],
): TrustState | undefined {
  const sources: [SecretData | undefined, LeafSlot | undefined][] = [
    [current?.node, leaves[0]],
    ...leaves
      .slice(1)
      .map((leaf): [SecretData | undefined, LeafSlot] => [current?.clients?.[leaf.user ?? ""], leaf]),
  ];
  for (const [data, leaf] of sources) {
    if (leaf?.observed.kind !== "ok") continue;
    const leafPem = leaf.observed.certificatePem;
    const pem = splitPemCertificates(data?.[CA_BUNDLE_KEY] ?? "").find((candidate) =>
      isSignedBy(leafPem, candidate),
    );
    const info = pem === undefined ? undefined : readableInfo(pem);
    if (pem === undefined || info === undefined) continue;
    return {
      active: { certificatePem: pem, info, key: undefined },
      next: undefined,
      previous: [],
      phaseStartedAt: undefined,
    };
  }
  return undefined;
}

function rotationAction(
  step: "start" | "promote-next" | "retire-previous",
  message: string,
  generated?: TrustedCA,
): TLSAction {
  switch (step) {
    case "start":
      return {
        certificate: "next-ca",
        action: "rotation-started",
        message: `CA rotation started: ${message}; generated CA ${generated?.info.fingerprint ?? ""} and added it to ca.crt`,
      };
    case "promote-next":
      return { certificate: "ca", action: "promoted", message: `CA rotation: ${message}` };
    case "retire-previous":
      return { certificate: "ca", action: "retired", message: `CA rotation finished: ${message}` };
  }
}

function sameData(a: SecretData | undefined, b: SecretData | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const keys = Object.keys(b);
  return Object.keys(a).length === keys.length && keys.every((key) => a[key] === b[key]);
}

function compactTime(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

function farFuture(now: Date): Date {
  return new Date(now.getTime() + 365 * 86_400_000);
}

function iso(date: Date): string {
  return date.toISOString();
}
