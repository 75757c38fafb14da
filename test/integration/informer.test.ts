// The informer against a real API server: it keeps its cache right through restarts, compaction (410 Gone),
// stalled connections and handlers that throw.
import { createServer, type Server, type Socket } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalControlPlane } from "../../src/controlplane/controlplane.ts";
import { Informer, type InformerEvent } from "../../src/runtime/informer.ts";
import { KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { createLogger } from "../../src/runtime/log.ts";
import { startControlPlane } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";
import { CONFIGMAP } from "../support/widget.ts";

const log = createLogger({ level: (process.env.TEST_LOG_LEVEL as "info") ?? "error" });
let cp: LocalControlPlane;
let client: KubeClient;

beforeAll(async () => {
  cp = await startControlPlane({ name: "informer", nodes: 1 });
  client = new KubeClient(cp.kubeConfig());
});
afterAll(async () => {
  await cp?.stop();
});

function configMap(namespace: string, name: string, value = "1"): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data: { value } };
}

async function namespace(name: string): Promise<string> {
  await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  return name;
}

function record(informer: Informer): string[] {
  const seen: string[] = [];
  informer.on((e: InformerEvent<KubeObject>) => seen.push(`${e.type}:${e.object.metadata?.name}`));
  return seen;
}

describe("an informer", () => {
  it("lists what exists, then sees additions, changes and deletions", async () => {
    const ns = await namespace("inf-basic");
    await client.apply(configMap(ns, "before"));
    const informer = new Informer({ client, type: CONFIGMAP, namespace: ns, log });
    const seen = record(informer);
    informer.start();
    await informer.synced();
    expect(informer.get(ns, "before")?.data).toEqual({ value: "1" });
    await client.apply(configMap(ns, "after"));
    await client.apply(configMap(ns, "after", "2"));
    await client.delete(CONFIGMAP, ns, "before");
    await eventually(() =>
      expect(seen.filter((s) => !s.includes("kube-root-ca"))).toEqual([
        "added:before",
        "added:after",
        "updated:after",
        "deleted:before",
      ]),
    );
    expect(informer.get(ns, "after")?.data).toEqual({ value: "2" });
    await informer.stop();
  });

  it("re-lists after 410 Gone and reports what changed while it was not watching", async () => {
    const ns = await namespace("inf-gone");
    await client.apply(configMap(ns, "stays"));
    await client.apply(configMap(ns, "goes"));
    const informer = new Informer({ client, type: CONFIGMAP, namespace: ns, log });
    const seen = record(informer);
    informer.start();
    await informer.synced();
    await informer.stop();
    // While it is stopped: changes, then etcd compaction and an API server restart, so the informer's
    // resourceVersion is gone from etcd and from the (fresh) watch cache alike.
    await client.delete(CONFIGMAP, ns, "goes");
    await client.apply(configMap(ns, "new"));
    await cp.compactEtcd();
    await cp.restartApiServer();
    seen.length = 0;
    informer.start();
    await eventually(() => expect(informer.stats.relistsAfterGone).toBeGreaterThanOrEqual(1), {
      timeoutMs: 60_000,
    });
    await eventually(() => expect(seen).toEqual(expect.arrayContaining(["deleted:goes", "added:new"])));
    expect(informer.get(ns, "goes")).toBeUndefined();
    expect(informer.get(ns, "stays")).toBeDefined();
    await informer.stop();
  });

  it("keeps going through an API server restart", async () => {
    const ns = await namespace("inf-restart");
    const informer = new Informer({
      client,
      type: CONFIGMAP,
      namespace: ns,
      log,
      backoff: { baseMs: 100, maxMs: 1000 },
    });
    informer.start();
    await informer.synced();
    await cp.restartApiServer();
    await client.apply(configMap(ns, "after-restart"));
    await eventually(() => expect(informer.get(ns, "after-restart")).toBeDefined(), { timeoutMs: 30_000 });
    expect(informer.stats.errors).toBeGreaterThanOrEqual(1);
    await informer.stop();
  });

  it("survives a handler that throws", async () => {
    const ns = await namespace("inf-throw");
    const informer = new Informer({ client, type: CONFIGMAP, namespace: ns, log });
    informer.on(() => {
      throw new Error("handler bug");
    });
    const seen = record(informer);
    informer.start();
    await informer.synced();
    await client.apply(configMap(ns, "a"));
    await client.apply(configMap(ns, "b"));
    await eventually(() => expect(seen).toEqual(expect.arrayContaining(["added:a", "added:b"])));
    await informer.stop();
  });

  it("treats a silent connection as dead and watches again", async () => {
    // A TCP proxy in front of the API server that can freeze: bytes stop flowing, nothing is closed —
    // the half-open connection that stalls client-node's watches without an error.
    const proxy = await freezableProxy(new URL(cp.server).port);
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(cp.kubeconfigPath);
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error("no cluster");
      kc.clusters = [{ ...cluster, server: `https://127.0.0.1:${proxy.port}` }];
      const proxied = new KubeClient(kc, { timeoutMs: 3000 });
      const ns = await namespace("inf-stall");
      const informer = new Informer({
        client: proxied,
        type: CONFIGMAP,
        namespace: ns,
        log,
        watchTimeoutSeconds: [2, 2],
        stallGraceMs: 1000,
        backoff: { baseMs: 100, maxMs: 500 },
      });
      informer.start();
      await informer.synced();
      proxy.freeze();
      await client.apply(configMap(ns, "during-stall"));
      await new Promise((r) => setTimeout(r, 1000));
      expect(informer.get(ns, "during-stall")).toBeUndefined();
      proxy.thawNewConnections();
      await eventually(() => expect(informer.get(ns, "during-stall")).toBeDefined(), { timeoutMs: 20_000 });
      expect(informer.stats.errors).toBeGreaterThanOrEqual(1);
      await informer.stop();
    } finally {
      proxy.close();
    }
  });
});

interface FreezableProxy {
  port: number;
  /** Existing connections stop forwarding without closing, and so do new ones. */
  freeze(): void;
  /** New connections forward again; frozen ones stay frozen (as a dead NAT entry would). */
  thawNewConnections(): void;
  close(): void;
}

async function freezableProxy(targetPort: string): Promise<FreezableProxy> {
  const { connect } = await import("node:net");
  let frozen = false;
  const sockets: Socket[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(Number(targetPort), "127.0.0.1");
    sockets.push(client, upstream);
    const startFrozen = frozen;
    const forward = (from: Socket, to: Socket) =>
      from.on("data", (chunk) => {
        if (!frozenConn.value) to.write(chunk);
      });
    const frozenConn = { value: startFrozen };
    connections.push(frozenConn);
    forward(client, upstream);
    forward(upstream, client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  const connections: { value: boolean }[] = [];
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no proxy port");
  return {
    port: address.port,
    freeze() {
      frozen = true;
      for (const c of connections) c.value = true;
    },
    thawNewConnections() {
      frozen = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
