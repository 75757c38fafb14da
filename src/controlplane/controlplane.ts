// A local Kubernetes control plane: etcd, kube-apiserver (TLS, client-certificate authentication, RBAC),
// kube-controller-manager, kube-scheduler and kwok (fake Nodes whose Pods become Running and Ready, and whose
// Job Pods complete), plus a small volume provisioner so StatefulSets with volumeClaimTemplates schedule.
// Several can run side by side: each has its own ports, data directory and PKI ("two control planes = two
// clusters" for multi-cluster tests).
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, StorageV1Api } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { type ControlPlaneBinaries, ensureControlPlaneBinaries } from "./binaries.ts";
import {
  type ControlPlanePKI,
  generateControlPlanePKI,
  issueClientCertificate,
  type KeyPair,
} from "./certs.ts";
import { ManagedProcess, waitFor } from "./process.ts";

export interface ControlPlaneOptions {
  /** Shown in logs and used as the kubeconfig context name. */
  name?: string;
  /** Where etcd data, certificates, kubeconfigs and logs go. A fresh temporary directory by default. */
  dataDir?: string;
  /** Number of fake (kwok) Nodes. Default 3, so required pod anti-affinity across 3 nodes can be satisfied. */
  nodes?: number;
  /** Progress output. */
  log?: (line: string) => void;
  /**
   * A file kept up to date with the process ids of every component (one per line), and removed on stop():
   * whoever started the control plane can kill what a crash left behind.
   */
  pidFile?: string;
}

export interface ControlPlaneInfo {
  name: string;
  dataDir: string;
  server: string;
  kubeconfigPath: string;
  etcdEndpoint: string;
  pids: Record<string, number>;
}

const STARTUP_TIMEOUT_MS = 120_000;

export class LocalControlPlane {
  readonly name: string;
  readonly dataDir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly etcdEndpoint: string;
  private readonly pki: ControlPlanePKI;
  private readonly processes: Map<string, ManagedProcess>;
  private readonly ownsDataDir: boolean;
  private readonly pidFile: string | undefined;

  private constructor(init: {
    name: string;
    dataDir: string;
    server: string;
    kubeconfigPath: string;
    etcdEndpoint: string;
    pki: ControlPlanePKI;
    processes: Map<string, ManagedProcess>;
    ownsDataDir: boolean;
    pidFile: string | undefined;
  }) {
    this.name = init.name;
    this.dataDir = init.dataDir;
    this.server = init.server;
    this.kubeconfigPath = init.kubeconfigPath;
    this.etcdEndpoint = init.etcdEndpoint;
    this.pki = init.pki;
    this.processes = init.processes;
    this.ownsDataDir = init.ownsDataDir;
    this.pidFile = init.pidFile;
  }

  /** Builds (first time) or finds the binaries, starts every component and waits until the cluster works. */
  static async start(opts: ControlPlaneOptions = {}): Promise<LocalControlPlane> {
    const log = opts.log ?? (() => {});
    const name = opts.name ?? "local";
    const bins = await ensureControlPlaneBinaries({ log });
    const ownsDataDir = opts.dataDir === undefined;
    const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `zitadel-operator-cp-${name}-`)));
    await mkdir(join(dataDir, "pki"), { recursive: true });
    await mkdir(join(dataDir, "logs"), { recursive: true });

    const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = (await freePorts(6)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const server = `https://127.0.0.1:${apiPort}`;
    const etcdEndpoint = `http://127.0.0.1:${etcdClient}`;
    const pki = generateControlPlanePKI();
    const files = await writePKI(join(dataDir, "pki"), pki);
    const kubeconfigPath = join(dataDir, "admin.kubeconfig");
    await writeFile(kubeconfigPath, kubeconfigYaml(name, server, pki.ca.certPem, pki.admin), { mode: 0o600 });
    const kcmKubeconfig = join(dataDir, "controller-manager.kubeconfig");
    await writeFile(kcmKubeconfig, kubeconfigYaml(name, server, pki.ca.certPem, pki.controllerManager), {
      mode: 0o600,
    });
    const schedKubeconfig = join(dataDir, "scheduler.kubeconfig");
    await writeFile(schedKubeconfig, kubeconfigYaml(name, server, pki.ca.certPem, pki.scheduler), {
      mode: 0o600,
    });

    const processes = new Map<string, ManagedProcess>();
    const add = (p: ManagedProcess) => processes.set(p.name, p);
    add(etcdProcess(bins, dataDir, etcdClient, etcdPeer));
    add(apiserverProcess(bins, dataDir, apiPort, etcdEndpoint, files));
    add(
      new ManagedProcess({
        name: "kube-controller-manager",
        command: bins.kubeControllerManager,
        logFile: join(dataDir, "logs", "kube-controller-manager.log"),
        args: [
          `--kubeconfig=${kcmKubeconfig}`,
          `--authentication-kubeconfig=${kcmKubeconfig}`,
          `--authorization-kubeconfig=${kcmKubeconfig}`,
          "--bind-address=127.0.0.1",
          `--secure-port=${kcmPort}`,
          "--leader-elect=false",
          `--service-account-private-key-file=${files.saKey}`,
          `--root-ca-file=${files.ca}`,
          "--use-service-account-credentials=true",
          // Fake nodes have no pod CIDRs to allocate and no cloud to talk to.
          "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
          "--concurrent-statefulset-syncs=5",
          "--v=1",
        ],
      }),
    );
    add(
      new ManagedProcess({
        name: "kube-scheduler",
        command: bins.kubeScheduler,
        logFile: join(dataDir, "logs", "kube-scheduler.log"),
        args: [
          `--kubeconfig=${schedKubeconfig}`,
          `--authentication-kubeconfig=${schedKubeconfig}`,
          `--authorization-kubeconfig=${schedKubeconfig}`,
          "--bind-address=127.0.0.1",
          `--secure-port=${schedPort}`,
          "--leader-elect=false",
          "--v=1",
        ],
      }),
    );
    add(
      new ManagedProcess({
        name: "kwok",
        command: bins.kwok,
        logFile: join(dataDir, "logs", "kwok.log"),
        args: [
          `--kubeconfig=${kubeconfigPath}`,
          `--config=${bins.kwokStages}`,
          `--config=${join(import.meta.dirname, "stages", "simulated-failure.yaml")}`,
          // Only the Nodes we create (annotated) are simulated.
          "--manage-all-nodes=false",
          "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
          "--cidr=10.244.0.1/16",
          "--node-ip=10.244.0.1",
          "--node-lease-duration-seconds=40",
          `--server-address=127.0.0.1:${kwokPort}`,
        ],
      }),
    );

    const cp = new LocalControlPlane({
      name,
      dataDir,
      server,
      kubeconfigPath,
      etcdEndpoint,
      pki,
      processes,
      ownsDataDir,
      pidFile: opts.pidFile,
    });
    try {
      log(`starting control plane '${name}' (data in ${dataDir})`);
      await cp.startProcess("etcd", () => httpOk(`${etcdEndpoint}/health`));
      await cp.startProcess("kube-apiserver", () => cp.apiReady());
      for (const component of ["kube-controller-manager", "kube-scheduler", "kwok"])
        cp.processes.get(component)?.start();
      await cp.recordPids();
      await cp.createFakeNodes(opts.nodes ?? 3);
      await cp.createDefaultStorageClass();
      await cp.waitForNodesReady(opts.nodes ?? 3);
      log(`control plane '${name}' is ready at ${server}`);
      return cp;
    } catch (err) {
      await cp.stop();
      throw err;
    }
  }

  /** A client for this control plane as cluster admin. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** A kubeconfig for a user authenticated by a client certificate of this control plane's CA. */
  kubeconfigFor(user: string, groups: string[] = []): Promise<string> {
    return writeUserKubeconfig(this.info(), user, groups);
  }

  info(): ControlPlaneInfo {
    const pids: Record<string, number> = {};
    for (const [name, p] of this.processes) if (p.pid) pids[name] = p.pid;
    return {
      name: this.name,
      dataDir: this.dataDir,
      server: this.server,
      kubeconfigPath: this.kubeconfigPath,
      etcdEndpoint: this.etcdEndpoint,
      pids,
    };
  }

  /** Stops and starts kube-apiserver (same port, same etcd): clients see their watches break. */
  async restartApiServer(): Promise<void> {
    const api = this.process("kube-apiserver");
    await api.stop();
    await this.startProcess("kube-apiserver", () => this.apiReady());
  }

  /** Stops kube-apiserver until `startApiServer`: for tests of an unreachable API server. */
  async stopApiServer(): Promise<void> {
    await this.process("kube-apiserver").stop();
  }

  async startApiServer(): Promise<void> {
    await this.startProcess("kube-apiserver", () => this.apiReady());
  }

  /**
   * Compacts etcd up to its current revision, so any watch or list from an older resourceVersion is answered
   * with 410 Gone: the way to test a watcher's re-list.
   */
  async compactEtcd(): Promise<number> {
    const status = await postJson(`${this.etcdEndpoint}/v3/kv/range`, {
      key: Buffer.from("/").toString("base64"),
    });
    const revision = Number((status as { header?: { revision?: string } }).header?.revision);
    if (!Number.isFinite(revision)) throw new Error("etcd did not report its revision");
    await postJson(`${this.etcdEndpoint}/v3/kv/compaction`, { revision: String(revision), physical: true });
    return revision;
  }

  /** Stops every process (SIGTERM, then SIGKILL) and removes the data directory if we created it. */
  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    const order = ["kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"];
    for (const name of order) await this.processes.get(name)?.stop();
    if (this.pidFile) await rm(this.pidFile, { force: true });
    if (this.ownsDataDir && !opts.keepData) await rm(this.dataDir, { recursive: true, force: true });
  }

  private process(name: string): ManagedProcess {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  private async recordPids(): Promise<void> {
    if (this.pidFile) await writeFile(this.pidFile, `${Object.values(this.info().pids).join("\n")}\n`);
  }

  private async startProcess(name: string, ready: () => Promise<boolean>): Promise<void> {
    const p = this.process(name);
    p.start();
    await this.recordPids();
    await waitFor(`${name} of control plane '${this.name}' to become ready`, ready, {
      timeoutMs: STARTUP_TIMEOUT_MS,
      fail: async () =>
        p.alive ? undefined : `${name} exited; last lines of ${p.logFile}:\n${await p.tail()}`,
    });
  }

  private apiReady(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(
        `${this.server}/readyz`,
        { ca: this.pki.ca.certPem, cert: this.pki.admin.certPem, key: this.pki.admin.keyPem, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
      req.end();
    });
  }

  private async createFakeNodes(count: number): Promise<void> {
    const core = this.kubeConfig().makeApiClient(CoreV1Api);
    for (let i = 0; i < count; i++) {
      const name = `kwok-node-${i}`;
      const zone = `zone-${String.fromCharCode(97 + (i % 3))}`;
      await core
        .createNode({
          body: {
            apiVersion: "v1",
            kind: "Node",
            metadata: {
              name,
              annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
              labels: {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
                type: "kwok",
                "topology.kubernetes.io/region": "local",
                "topology.kubernetes.io/zone": zone,
              },
            },
          },
        })
        .catch((err: { code?: number }) => {
          if (err.code !== 409) throw err;
        });
    }
  }

  /** kwok's volume Stages provision claims of the kwok-volume class; make it the default, as kind does. */
  private async createDefaultStorageClass(): Promise<void> {
    await this.kubeConfig()
      .makeApiClient(StorageV1Api)
      .createStorageClass({
        body: {
          metadata: {
            name: "kwok-volume",
            annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
          },
          provisioner: "kwok.x-k8s.io/volume",
          reclaimPolicy: "Delete",
          volumeBindingMode: "Immediate",
          allowVolumeExpansion: true,
        },
      })
      .catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });
  }

  private async waitForNodesReady(count: number): Promise<void> {
    const core = this.kubeConfig().makeApiClient(CoreV1Api);
    const kwok = this.process("kwok");
    await waitFor(
      `${count} kwok nodes to become Ready`,
      async () => {
        const nodes = await core.listNode();
        const ready = nodes.items.filter((n) =>
          n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return ready.length >= count;
      },
      {
        timeoutMs: STARTUP_TIMEOUT_MS,
        fail: async () => (kwok.alive ? undefined : `kwok exited:\n${await kwok.tail()}`),
      },
    );
  }
}

/**
 * Writes a kubeconfig for `user` (in `groups`), authenticated by a client certificate signed by the control
 * plane's CA, next to its admin kubeconfig. It can do what RBAC grants that user and nothing else: the way to
 * test least-privilege RBAC.
 */
export async function writeUserKubeconfig(info: ControlPlaneInfo, user: string, groups: string[] = []) {
  const ca: KeyPair = {
    certPem: await readFile(join(info.dataDir, "pki", "ca.crt"), "utf8"),
    keyPem: await readFile(join(info.dataDir, "pki", "ca.key"), "utf8"),
  };
  const path = join(info.dataDir, `user-${user.replace(/[^a-zA-Z0-9_.-]/g, "_")}.kubeconfig`);
  const pair = issueClientCertificate(ca, user, groups);
  await writeFile(path, kubeconfigYaml(info.name, info.server, ca.certPem, pair, user), { mode: 0o600 });
  return path;
}

interface PKIFiles {
  ca: string;
  apiserverCert: string;
  apiserverKey: string;
  saPub: string;
  saKey: string;
}

async function writePKI(dir: string, pki: ControlPlanePKI): Promise<PKIFiles> {
  const files: PKIFiles = {
    ca: join(dir, "ca.crt"),
    apiserverCert: join(dir, "apiserver.crt"),
    apiserverKey: join(dir, "apiserver.key"),
    saPub: join(dir, "sa.pub"),
    saKey: join(dir, "sa.key"),
  };
  await writeFile(files.ca, pki.ca.certPem);
  await writeFile(join(dir, "ca.key"), pki.ca.keyPem, { mode: 0o600 });
  await writeFile(files.apiserverCert, pki.apiserver.certPem);
  await writeFile(files.apiserverKey, pki.apiserver.keyPem, { mode: 0o600 });
  await writeFile(files.saPub, pki.serviceAccount.publicPem);
  await writeFile(files.saKey, pki.serviceAccount.privatePem, { mode: 0o600 });
  return files;
}

function etcdProcess(
  bins: ControlPlaneBinaries,
  dataDir: string,
  client: number,
  peer: number,
): ManagedProcess {
  return new ManagedProcess({
    name: "etcd",
    command: bins.etcd,
    logFile: join(dataDir, "logs", "etcd.log"),
    args: [
      "--name=default",
      `--data-dir=${join(dataDir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=default=http://127.0.0.1:${peer}`,
      // A throwaway store: skipping fsync makes tests several times faster and loses nothing that matters.
      "--unsafe-no-fsync",
      "--quota-backend-bytes=2147483648",
      "--log-level=warn",
    ],
  });
}

function apiserverProcess(
  bins: ControlPlaneBinaries,
  dataDir: string,
  port: number,
  etcd: string,
  files: PKIFiles,
): ManagedProcess {
  return new ManagedProcess({
    name: "kube-apiserver",
    command: bins.kubeApiserver,
    logFile: join(dataDir, "logs", "kube-apiserver.log"),
    args: [
      `--etcd-servers=${etcd}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      `--tls-cert-file=${files.apiserverCert}`,
      `--tls-private-key-file=${files.apiserverKey}`,
      `--client-ca-file=${files.ca}`,
      "--authorization-mode=Node,RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      // One API server: no endpoint lease to reconcile against a loopback address.
      "--endpoint-reconciler-type=none",
      "--profiling=false",
      "--v=1",
    ],
  });
}

function kubeconfigYaml(
  name: string,
  server: string,
  caPem: string,
  user: KeyPair,
  userName = "admin",
): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "certificate-authority-data": b64(caPem) } }],
    users: [
      {
        name: `${name}-${userName}`,
        user: { "client-certificate-data": b64(user.certPem), "client-key-data": b64(user.keyPem) },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: `${name}-${userName}` } }],
    "current-context": name,
  });
}

/** Free loopback ports, all held open until every one is chosen so none is handed out twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (!addr || typeof addr === "string") throw new Error("no port");
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}
