import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { splitPemCertificates, verifyLeaf } from "../../../src/pki/bundle.ts";
import { certificateInfo } from "../../../src/pki/certificate-info.ts";
import {
  type CurrentTLSSecrets,
  type DesiredSecretDataResult,
  desiredSecretData,
  type TLSSpec,
} from "../../../src/pki/desired-state.ts";
import { generatePrivateKey, type KeyGenerator } from "../../../src/pki/keys.ts";
import { nodeSANs } from "../../../src/pki/names.ts";
import { resolveTLSPolicy, type TLSPolicySpec } from "../../../src/pki/policy.ts";
import type { SecretData } from "../../../src/pki/secret-layout.ts";
import { opensslCA, opensslVerify } from "./openssl.ts";

const t0 = new Date("2030-01-01T00:00:00Z");
const at = (seconds: number, from = t0) => new Date(from.getTime() + seconds * 1000);
const local = {
  namespace: "db",
  publicService: "crdb-public",
  headlessService: "crdb",
  clusterDomain: "cluster.local",
};

/** Seconds-long lifetimes: CA 60s (rotation at 40s), leaves 12s (renewal at 8s), 5s overlap. */
const FAST: TLSPolicySpec = {
  caLifetime: "60s",
  caOverlap: "5s",
  nodeLifetime: "12s",
  clientLifetime: "12s",
  clockSkew: "0s",
};

function spec(overrides: Partial<TLSSpec> = {}, policy: TLSPolicySpec = FAST): TLSSpec {
  const resolved = resolveTLSPolicy(policy);
  if (!resolved.ok) throw new Error(resolved.message);
  return {
    clusterName: "crdb",
    policy: resolved.policy,
    nodeNames: nodeSANs({ services: [local] }),
    clientUsers: ["root", "zitadel"],
    ...overrides,
  };
}

type Ok = Extract<DesiredSecretDataResult, { ok: true }>;

function ok(result: DesiredSecretDataResult): Ok {
  if (!result.ok) throw new Error(`${result.reason}: ${result.message}`);
  return result;
}

function asCurrent(result: Ok, extra: Partial<CurrentTLSSecrets> = {}): CurrentTLSSecrets {
  return { ca: result.secrets.ca, node: result.secrets.node, clients: result.secrets.clients, ...extra };
}

interface Leaf {
  readonly name: string;
  readonly pem: string;
  readonly purpose: "sslserver" | "sslclient";
  readonly bundle: string;
}

function leaves(result: Ok): Leaf[] {
  const node = result.secrets.node;
  return [
    { name: "node", pem: node["node.crt"] ?? "", purpose: "sslserver", bundle: node["ca.crt"] ?? "" },
    ...Object.entries(result.secrets.clients).map(([user, data]) => ({
      name: `client.${user}`,
      pem: data[`client.${user}.crt`] ?? "",
      purpose: "sslclient" as const,
      bundle: data["ca.crt"] ?? "",
    })),
  ];
}

function expectOpensslAccepts(leaf: Leaf, bundle: string, now: Date, context: string) {
  const result = opensslVerify(leaf.pem, bundle, { at: now, purpose: leaf.purpose });
  expect(result.ok, `${context}: ${leaf.name} rejected by openssl: ${result.output}`).toBe(true);
}

function cas(bundle: string): string[] {
  return splitPemCertificates(bundle).map((pem) => certificateInfo(pem).fingerprint);
}

describe("desiredSecretData", () => {
  it("creates a CA, a node certificate and a client certificate per user, all verified by openssl", async () => {
    const result = ok(await desiredSecretData(undefined, spec(), t0));

    expect(Object.keys(result.secrets.ca).sort()).toEqual(["ca.crt", "ca.key"]);
    expect(Object.keys(result.secrets.node).sort()).toEqual([
      "ca.crt",
      "node.crt",
      "node.key",
      "tls.crt",
      "tls.key",
    ]);
    expect(Object.keys(result.secrets.clients)).toEqual(["root", "zitadel"]);
    expect(Object.keys(result.secrets.clients.zitadel ?? {}).sort()).toEqual([
      "ca.crt",
      "client.zitadel.crt",
      "client.zitadel.key",
      "tls.crt",
      "tls.key",
    ]);
    expect(result.secrets.node["tls.crt"]).toBe(result.secrets.node["node.crt"]);
    expect(result.secrets.node["ca.crt"]).toBe(splitPemCertificates(result.secrets.ca["ca.crt"] ?? "")[0]);
    for (const leaf of leaves(result)) expectOpensslAccepts(leaf, leaf.bundle, t0, "first run");
    expect(certificateInfo(result.secrets.clients.zitadel?.["client.zitadel.crt"] ?? "").commonName).toBe(
      "zitadel",
    );

    expect(result.actions.map((a) => `${a.action} ${a.certificate}`)).toEqual([
      "generated ca",
      "issued node",
      "issued client.root",
      "issued client.zitadel",
    ]);
    expect(result.changed).toEqual({ ca: true, node: true, clients: ["root", "zitadel"] });
    expect(result.nextCheckAt).toEqual(at(8));
    expect(result.status).toMatchObject({
      caRotationPhase: "steady",
      expirations: {
        "ca.crt": at(60).toISOString(),
        "node.crt": at(12).toISOString(),
        "client.root.crt": at(12).toISOString(),
      },
    });
  });

  it("changes nothing when run again on its own output", async () => {
    const first = ok(await desiredSecretData(undefined, spec(), t0));
    const keygen: KeyGenerator = () => {
      throw new Error("no key should be generated");
    };
    for (const now of [t0, at(3), at(7)]) {
      const again = ok(await desiredSecretData(asCurrent(first), spec(), now, keygen));
      expect(again.secrets).toEqual(first.secrets);
      expect(again.actions).toEqual([]);
      expect(again.changed).toEqual({ ca: false, node: false, clients: [] });
      expect(again.nextCheckAt).toEqual(at(8));
    }
  });

  it("renews leaves at two thirds of their lifetime, keeping the CA", async () => {
    const first = ok(await desiredSecretData(undefined, spec(), t0));
    const renewed = ok(await desiredSecretData(asCurrent(first), spec(), at(8)));
    expect(renewed.actions.map((a) => `${a.action} ${a.certificate}`)).toEqual([
      "renewed node",
      "renewed client.root",
      "renewed client.zitadel",
    ]);
    expect(renewed.actions[0]?.message).toContain("expiring");
    expect(renewed.secrets.ca).toEqual(first.secrets.ca);
    expect(renewed.changed).toEqual({ ca: false, node: true, clients: ["root", "zitadel"] });
    for (const leaf of leaves(renewed)) {
      expectOpensslAccepts(leaf, leaf.bundle, at(8), "after renewal");
      expect(certificateInfo(leaf.pem).notAfter).toEqual(at(20));
    }
  });

  it("re-issues only the node certificate when its names change", async () => {
    const first = ok(await desiredSecretData(undefined, spec(), t0));
    const nodeNames = nodeSANs({ services: [local], extraNames: ["sql.example.com"] });
    const next = ok(await desiredSecretData(asCurrent(first), spec({ nodeNames }), at(1)));
    expect(next.actions.map((a) => `${a.action} ${a.certificate}`)).toEqual(["renewed node"]);
    expect(next.actions[0]?.message).toContain("names-changed");
    expect(certificateInfo(next.secrets.node["node.crt"] ?? "").dnsNames).toContain("sql.example.com");
    expect(next.secrets.clients).toEqual(first.secrets.clients);
  });

  it("issues a certificate for a new user and leaves out a removed one", async () => {
    const first = ok(await desiredSecretData(undefined, spec(), t0));
    const next = ok(
      await desiredSecretData(asCurrent(first), spec({ clientUsers: ["root", "app_reader"] }), at(1)),
    );
    expect(next.actions.map((a) => `${a.action} ${a.certificate}`)).toEqual(["issued client.app_reader"]);
    expect(Object.keys(next.secrets.clients)).toEqual(["root", "app_reader"]);
    expect(next.secrets.clients.root).toEqual(first.secrets.clients.root);
  });

  it("re-issues every leaf when the key algorithm changes, but not the CA", async () => {
    const first = ok(await desiredSecretData(undefined, spec(), t0));
    const next = ok(
      await desiredSecretData(asCurrent(first), spec({}, { ...FAST, keyAlgorithm: "rsa-2048" }), at(1)),
    );
    expect(next.actions.map((a) => a.action)).toEqual(["renewed", "renewed", "renewed"]);
    expect(certificateInfo(next.secrets.node["node.crt"] ?? "").publicKey).toBe("RSA 2048");
    expect(next.secrets.ca).toEqual(first.secrets.ca);
  });

  it("replaces a leaf whose Secret holds something unreadable", async () => {
    const first = ok(await desiredSecretData(undefined, spec(), t0));
    const otherKey = (await generatePrivateKey("ecdsa-p256")).toPem();
    const broken = asCurrent(first, { node: { ...first.secrets.node, "node.key": otherKey } });
    const next = ok(await desiredSecretData(broken, spec(), at(1)));
    expect(next.actions.map((a) => a.message)).toEqual([
      expect.stringContaining("node.key does not belong to node.crt"),
    ]);
    expect(next.actions[0]?.message).not.toContain("PRIVATE KEY");
  });

  it("rotates the CA by overlap without ever presenting a certificate a peer does not trust", async () => {
    const s = spec();
    let previous = ok(await desiredSecretData(undefined, s, t0));
    const phases: string[] = [previous.status.caRotationPhase];
    const activeCAs = new Set<string>([previous.status.signingCA]);

    for (let second = 1; second <= 110; second++) {
      const now = at(second);
      const result = ok(await desiredSecretData(asCurrent(previous), s, now));

      // Nothing happens before the time the last run asked to be woken.
      if (result.actions.length > 0)
        expect(now.getTime()).toBeGreaterThanOrEqual(previous.nextCheckAt.getTime());
      // Idempotent at every step.
      const again = ok(await desiredSecretData(asCurrent(result), s, now));
      expect(again.secrets).toEqual(result.secrets);
      expect(again.actions).toEqual([]);

      if (phases[phases.length - 1] !== result.status.caRotationPhase)
        phases.push(result.status.caRotationPhase);
      activeCAs.add(result.status.signingCA);

      // Every leaf chains to its own ca.crt now.
      for (const leaf of leaves(result)) {
        const check = verifyLeaf(leaf.pem, leaf.bundle, now);
        expect(check.ok, `${second}s: ${leaf.name}: ${check.ok ? "" : check.message}`).toBe(true);
      }
      if (result.actions.length === 0) continue;

      // Kubelet updates Secrets one by one and pods reload at different times, so at each change every new leaf
      // must be trusted by the old ca.crt and every old leaf by the new ca.crt.
      const oldBundle = previous.secrets.node["ca.crt"] ?? "";
      const newBundle = result.secrets.node["ca.crt"] ?? "";
      for (const leaf of leaves(result))
        expectOpensslAccepts(leaf, oldBundle, now, `${second}s new leaf, old ca.crt`);
      for (const leaf of leaves(previous))
        expectOpensslAccepts(leaf, newBundle, now, `${second}s old leaf, new ca.crt`);

      if (result.status.caRotationPhase === "trusting-next") {
        expect(cas(newBundle)).toHaveLength(2);
      }
      // The old CA leaves ca.crt only once every leaf is signed by the new one.
      if (cas(newBundle).length < cas(oldBundle).length) {
        for (const leaf of leaves(previous)) {
          expect(verifyLeaf(leaf.pem, newBundle, now).ok).toBe(true);
        }
        expect(result.actions.map((a) => a.action)).toContain("retired");
      }
      previous = result;
    }

    // Rotations start at 40s and 80s: each CA lives 60s and rotates with a third of its life left.
    expect(phases).toEqual([
      "steady",
      "trusting-next",
      "retiring-previous",
      "steady",
      "trusting-next",
      "retiring-previous",
      "steady",
    ]);
    expect(activeCAs.size).toBe(3);
  }, 60_000);

  it("keeps the cluster working when the CA Secret is deleted", async () => {
    const s = spec();
    const first = ok(await desiredSecretData(undefined, s, t0));
    const lost = { node: first.secrets.node, clients: first.secrets.clients };
    const recovered = ok(await desiredSecretData(lost, s, at(1)));

    expect(recovered.warnings.map((w) => w.reason)).toEqual(["CASecretMissing"]);
    expect(recovered.status.caRotationPhase).toBe("trusting-next");
    // The running leaves stay as they are, and the old CA stays trusted next to the new one.
    expect(recovered.secrets.node["node.crt"]).toBe(first.secrets.node["node.crt"]);
    expect(cas(recovered.secrets.node["ca.crt"] ?? "")).toHaveLength(2);
    expect(recovered.secrets.ca["ca.key"]).toBeUndefined();
    expect(recovered.secrets.ca["next-ca.key"]).toBeDefined();

    const moved = ok(await desiredSecretData(asCurrent(recovered), s, at(6)));
    expect(moved.status.caRotationPhase).toBe("retiring-previous");
    for (const leaf of leaves(moved)) {
      expectOpensslAccepts(
        leaf,
        recovered.secrets.node["ca.crt"] ?? "",
        at(6),
        "new leaf, ca.crt before the move",
      );
    }
    for (const leaf of leaves(first)) {
      expectOpensslAccepts(
        leaf,
        moved.secrets.node["ca.crt"] ?? "",
        at(6),
        "old leaf, ca.crt after the move",
      );
    }
    expect(moved.secrets.ca["ca.key"]).toBeDefined();
  });

  it("uses a CA the user supplies, never stores its key, and follows a replacement with an overlap", async () => {
    const first = opensslCA("rsa:2048", "/O=Example/CN=Example CA 1");
    const second = opensslCA("ec:P-384", "/O=Example/CN=Example CA 2");
    // openssl's CAs start at the real clock; start the test clock just after.
    const now = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
    const s = spec({ suppliedCASecretName: "my-ca" });
    const start = ok(
      await desiredSecretData({ suppliedCA: { "ca.crt": first.cert, "ca.key": first.key } }, s, now),
    );

    expect(start.actions.map((a) => a.action)).toEqual(["adopted", "issued", "issued", "issued"]);
    expect(Object.keys(start.secrets.ca)).toEqual(["ca.crt"]);
    expect(JSON.stringify(start.secrets.ca)).not.toContain("PRIVATE KEY");
    for (const leaf of leaves(start)) expectOpensslAccepts(leaf, first.cert, now, "supplied CA");

    const supplied2 = { suppliedCA: { "tls.crt": second.cert, "tls.key": second.key } };
    const swapped = ok(await desiredSecretData(asCurrent(start, supplied2), s, at(1, now)));
    expect(swapped.status.caRotationPhase).toBe("trusting-next");
    expect(swapped.actions.map((a) => a.action)).toEqual(["adopted"]);
    expect(swapped.secrets.node["node.crt"]).toBe(start.secrets.node["node.crt"]);
    expect(cas(swapped.secrets.node["ca.crt"] ?? "")).toHaveLength(2);

    const moved = ok(await desiredSecretData(asCurrent(swapped, supplied2), s, at(6, now)));
    expect(moved.status.caRotationPhase).toBe("retiring-previous");
    for (const leaf of leaves(moved)) {
      expectOpensslAccepts(leaf, second.cert, at(6, now), "new supplied CA");
      expectOpensslAccepts(leaf, swapped.secrets.node["ca.crt"] ?? "", at(6, now), "bundle before the move");
    }

    const done = ok(await desiredSecretData(asCurrent(moved, supplied2), s, at(11, now)));
    expect(done.status.caRotationPhase).toBe("steady");
    expect(cas(done.secrets.node["ca.crt"] ?? "")).toEqual([certificateInfo(second.cert).fingerprint]);
  });

  it("refuses a CA Secret whose key does not belong to its certificate, without quoting either", async () => {
    const first = ok(await desiredSecretData(undefined, spec(), t0));
    const otherKey = (await generatePrivateKey("ecdsa-p256")).toPem();
    const result = await desiredSecretData(
      asCurrent(first, { ca: { ...first.secrets.ca, "ca.key": otherKey } }),
      spec(),
      t0,
    );
    expect(result).toMatchObject({
      ok: false,
      reason: "CASecretInvalid",
      message: "CA Secret: ca.key does not belong to ca.crt",
    });
  });

  it("never regenerates a CA Secret that exists", async () => {
    const result = await desiredSecretData({ ca: {} }, spec(), t0);
    expect(result).toMatchObject({ ok: false, reason: "CASecretInvalid" });
  });

  it("rejects bad user names and node names with a reason", async () => {
    expect(await desiredSecretData(undefined, spec({ clientUsers: ["root", "Bad User"] }), t0)).toMatchObject(
      {
        ok: false,
        reason: "InvalidUserName",
      },
    );
    expect(await desiredSecretData(undefined, spec({ clientUsers: ["root", "root"] }), t0)).toMatchObject({
      ok: false,
      reason: "DuplicateUserName",
    });
    const nodeNames = { dnsNames: ["ok.example", "not ok"], ipAddresses: [] };
    expect(await desiredSecretData(undefined, spec({ nodeNames }), t0)).toMatchObject({
      ok: false,
      reason: "InvalidSubjectAltName",
    });
    expect(await desiredSecretData({}, spec({ suppliedCASecretName: "missing" }), t0)).toMatchObject({
      ok: false,
      reason: "CASecretNotFound",
    });
  });

  it("keeps private keys out of actions, warnings, status and errors", async () => {
    const s = spec();
    const outputs: unknown[] = [];
    let result = ok(await desiredSecretData(undefined, s, t0));
    for (let second = 0; second <= 70; second += 4) {
      result = ok(await desiredSecretData(asCurrent(result), s, at(second)));
      outputs.push(result.actions, result.warnings, result.status);
    }
    const lost = ok(
      await desiredSecretData({ node: result.secrets.node, clients: result.secrets.clients }, s, at(71)),
    );
    outputs.push(lost.actions, lost.warnings, lost.status);
    const key = (await generatePrivateKey("ecdsa-p256")).toPem();
    const badSecrets: CurrentTLSSecrets[] = [
      { ca: { "ca.crt": key, "ca.key": key } },
      { ca: { ...result.secrets.ca, "ca.key": key } },
      { ca: { "ca.crt": "garbage", "ca.key": key } },
    ];
    for (const current of badSecrets) outputs.push(await desiredSecretData(current, s, at(72)));
    const suppliedBad: SecretData = { "ca.crt": `${key}${result.secrets.node["node.crt"]}`, "ca.key": key };
    outputs.push(
      await desiredSecretData({ suppliedCA: suppliedBad }, spec({ suppliedCASecretName: "x" }), at(72)),
    );

    const text = `${JSON.stringify(outputs)}${inspect(outputs, { depth: 10 })}`;
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).toContain("CASecretInvalid");
  });
});
