// The RemoteCluster controller against real API servers. The "other" cluster is the shared control plane itself,
// reached through a kubeconfig of its own (a ServiceAccount token, as `install --remote-role` suggests), which
// limits the operator to one namespace: what the controller checks (reachability, credentials, RBAC in that
// namespace) is the same whichever cluster answers.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { installCrds } from "../../src/dev/environment.ts";
import { renderRemoteRole } from "../../src/install/manifests.ts";
import { createOperator } from "../../src/operator.ts";
import { generateCA } from "../../src/pki/issue.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import type { Manager } from "../../src/runtime/manager.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const kc = sharedKubeConfig();
const client = new KubeClient(kc);
const REMOTE = {
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "RemoteCluster",
  plural: "remoteclusters",
  namespaced: true,
};
const EVENT = { apiVersion: "events.k8s.io/v1", kind: "Event", plural: "events", namespaced: true };
const MARKER = `/tmp/remotecluster-exec-${process.pid}`;

type Remote = KubeObject & {
  status?: {
    serverVersion?: string;
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
};

let home: string;
let remoteNs: string;
let operator: Manager;
let token: string;
let caData: string;
const server = inject("controlPlane").server;

const kubeconfig = (cluster: Record<string, unknown>, user: Record<string, unknown>) =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "other", cluster: { server, "certificate-authority-data": caData, ...cluster } }],
    users: [{ name: "operator", user }],
    contexts: [{ name: "other", context: { cluster: "other", user: "operator" } }],
    "current-context": "other",
  });

async function remoteCluster(name: string, config?: string): Promise<void> {
  if (config !== undefined)
    await client.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${name}-kubeconfig`, namespace: home },
      stringData: { kubeconfig: config },
    });
  await client.apply({
    apiVersion: REMOTE.apiVersion,
    kind: REMOTE.kind,
    metadata: { name, namespace: home },
    spec: { kubeconfigSecretRef: { name: `${name}-kubeconfig` }, region: "eu-west-1", namespace: remoteNs },
  });
}

/** A change to the object wakes its reconcile at once (a Secret or a remote Role being fixed does not). */
async function nudge(name: string): Promise<void> {
  await client.apply(
    {
      apiVersion: REMOTE.apiVersion,
      kind: REMOTE.kind,
      metadata: { name, namespace: home, annotations: { nudge: String(Date.now()) } },
    },
    { fieldManager: "test-nudge" },
  );
}

/**
 * Waits for Ready to be `status reason`. With `nudging`, each look first wakes the reconcile: the change the test
 * made elsewhere (a Secret, a Role the API server's RBAC cache may not have yet) brings no event of ours.
 */
async function readyIs(name: string, status: string, reason: string, nudging = false) {
  return eventually(
    async () => {
      if (nudging) await nudge(name);
      const r = await client.get<Remote>(REMOTE, home, name);
      const ready = r?.status?.conditions?.find((c) => c.type === "Ready");
      expect(`${ready?.status} ${ready?.reason}`, ready?.message).toBe(`${status} ${reason}`);
      return { remote: r as Remote, message: ready?.message ?? "" };
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
}

beforeAll(async () => {
  await installCrds(client, () => {});
  home = await testNamespace(kc, "rc-home");
  remoteNs = await testNamespace(kc, "rc-other");
  caData = Buffer.from(await readFile(join(inject("controlPlane").dataDir, "pki", "ca.crt"))).toString(
    "base64",
  );
  // The ServiceAccount of the remote Role, without the Role and its binding for now.
  const [serviceAccount] = renderRemoteRole(remoteNs);
  await client.apply(serviceAccount as KubeObject);
  const issued = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: "zitadel-operator-remote",
    namespace: remoteNs,
    body: { spec: { expirationSeconds: 3600 } },
  });
  token = issued.status?.token ?? "";
  expect(token).not.toBe("");
  operator = createOperator({ kubeConfig: kc, log: createLogger({ level: "error" }), namespaces: [home] });
  await operator.start();
});

afterAll(async () => {
  await operator?.stop();
});

describe("RemoteCluster", () => {
  it("says the Secret is missing, then which rights are missing, then connects once the remote Role is granted", async () => {
    await remoteCluster("eu");
    expect((await readyIs("eu", "False", "KubeconfigSecretNotFound")).message).toBe(
      "Secret eu-kubeconfig (spec.kubeconfigSecretRef) does not exist",
    );

    await remoteCluster("eu", kubeconfig({}, { token }));
    const missing = await readyIs("eu", "False", "MissingRights", true);
    expect(missing.message).toContain(`in namespace ${remoteNs} of the cluster at ${server}`);
    expect(missing.message).toContain("get, list, watch, create, patch, delete statefulsets.apps");
    expect(missing.message).toContain("zitadel-operator install --remote-role");
    expect(missing.remote.status?.serverVersion).toMatch(/^v1\.\d+\.\d+/);

    const [, role, binding] = renderRemoteRole(remoteNs);
    await client.apply(role as KubeObject);
    await client.apply(binding as KubeObject);
    const connected = await readyIs("eu", "True", "Connected", true);
    expect(connected.message).toBe(
      `Kubernetes ${connected.remote.status?.serverVersion} at ${server}, namespace ${remoteNs}; every right the operator needs there is granted`,
    );

    // Steady state: a restarted operator checks again and writes nothing.
    await operator.stop();
    operator = createOperator({ kubeConfig: kc, log: createLogger({ level: "error" }), namespaces: [home] });
    await operator.start();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(operator.client.writes).toBe(0);
  });

  it("names each broken connection: refused kubeconfig, unreachable server, unknown CA, rejected token", async () => {
    // A CA that did not sign the API server's certificate.
    const otherCa = Buffer.from(
      (
        await generateCA({
          commonName: "another-ca",
          now: new Date(),
          policy: { lifetimeMs: 3600_000, clockSkewMs: 60_000, renewBeforeMs: undefined },
          keyAlgorithm: "ecdsa-p256",
        })
      ).certificatePem,
    ).toString("base64");
    await remoteCluster(
      "exec",
      kubeconfig(
        {},
        { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "touch", args: [MARKER] } },
      ),
    );
    await remoteCluster("closed", kubeconfig({ server: "https://127.0.0.1:1" }, { token }));
    await remoteCluster("wrong-ca", kubeconfig({ "certificate-authority-data": otherCa }, { token }));
    await remoteCluster("bad-token", kubeconfig({}, { token: `${token.slice(0, -8)}AAAAAAAA` }));

    expect((await readyIs("exec", "False", "KubeconfigRefused")).message).toBe(
      "key kubeconfig of Secret exec-kubeconfig: users[operator].exec is refused: it runs a command in the operator's pod",
    );
    await expect(readFile(MARKER)).rejects.toThrow(/ENOENT/);
    expect((await readyIs("closed", "False", "Unreachable")).message).toBe(
      "cannot reach the API server at https://127.0.0.1:1: ECONNREFUSED",
    );
    expect((await readyIs("wrong-ca", "False", "Unreachable")).message).toMatch(
      new RegExp(`^cannot reach the API server at ${server.replaceAll(".", "\\.")}: \\S+`),
    );
    expect((await readyIs("bad-token", "False", "Unauthorized")).message).toBe(
      `the API server at ${server} does not accept the kubeconfig's credentials (401)`,
    );

    // Each failure is an Event too (recorded just after the status is written); no token in any status or Event.
    const events = await eventually(async () => {
      const { items } = await client.list<KubeObject & { reason?: string; note?: string }>(EVENT, {
        namespace: home,
      });
      expect(items.map((e) => e.reason)).toEqual(
        expect.arrayContaining([
          "KubeconfigRefused",
          "Unreachable",
          "Unauthorized",
          "Connected",
          "MissingRights",
        ]),
      );
      return items;
    });
    const { items: remotes } = await client.list<Remote>(REMOTE, { namespace: home });
    const said = JSON.stringify([events, remotes.map((r) => r.status)]);
    expect(said).not.toContain(token);
    expect(said).not.toContain(token.slice(0, -8));
  });
});
