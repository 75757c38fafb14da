// `zitadel-operator dev`: a local control plane with the pod simulator, our CRDs, the operator and the example
// stack, running in the background until `dev down`. One supervisor process (`dev serve`) owns everything,
// so stopping it stops it all.
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { renderCrds } from "../api/crds.ts";
import { repoRoot } from "../controlplane/binaries.ts";
import { LocalControlPlane } from "../controlplane/controlplane.ts";
import { isAlive, waitFor } from "../controlplane/process.ts";
import { createOperator } from "../operator.ts";
import { KubeClient, type KubeObject } from "../runtime/kube.ts";
import { createLogger } from "../runtime/log.ts";
import type { Manager } from "../runtime/manager.ts";
import { applyDemoStack } from "./demo-stack.ts";

export const DEV_NAMESPACE = "zitadel";

export interface DevState {
  pid: number;
  kubeconfig: string;
  server: string;
  namespace: string;
  startedAt: string;
  ready: boolean;
  /** The operator's /metrics endpoint. */
  metrics?: string;
  error?: string;
}

export function defaultStateDir(): string {
  return resolve(process.env.ZITADEL_OPERATOR_DEV_DIR ?? ".dev");
}

const stateFile = (dir: string) => join(dir, "state.json");

export async function readState(dir: string): Promise<DevState | undefined> {
  try {
    const state = JSON.parse(await readFile(stateFile(dir), "utf8")) as DevState;
    return isAlive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `dev serve` in the background and waits until it reports ready (or failed). */
export async function devUp(
  dir: string,
  opts: { nodes: number; log: (l: string) => void },
): Promise<DevState> {
  const running = await readState(dir);
  if (running?.ready) return running;
  if (running)
    throw new Error(`a dev environment is starting already (pid ${running.pid}); see ${dir}/dev.log`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const out = openSync(join(dir, "dev.log"), "a");
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, "bin", "zitadel-operator.js"),
      "dev",
      "serve",
      "--state-dir",
      dir,
      "--nodes",
      String(opts.nodes),
    ],
    { detached: true, stdio: ["ignore", out, out], env: process.env },
  );
  child.unref();
  opts.log(
    `starting the dev environment in the background (pid ${child.pid}, log ${join(dir, "dev.log")})...`,
  );
  let state: DevState | undefined;
  await waitFor(
    "the dev environment",
    async () => {
      state = JSON.parse(await readFile(stateFile(dir), "utf8")) as DevState;
      return state.ready;
    },
    {
      // The first run builds the control plane from source: minutes, not seconds.
      timeoutMs: 45 * 60_000,
      intervalMs: 500,
      fail: async () => {
        if (state?.error) return state.error;
        if (child.pid && !isAlive(child.pid))
          return `it exited; last lines of ${dir}/dev.log:\n${await tail(dir)}`;
        return undefined;
      },
    },
  );
  if (!state) throw new Error("the dev environment did not report its state");
  return state;
}

/** Stops the supervisor (which stops the operator and the control plane) and anything it left behind. */
export async function devDown(dir: string, log: (l: string) => void): Promise<boolean> {
  const state = await readState(dir);
  if (state) {
    process.kill(state.pid, "SIGTERM");
    await waitFor("the dev environment to stop", async () => !isAlive(state.pid), {
      timeoutMs: 60_000,
    }).catch(() => process.kill(state.pid, "SIGKILL"));
  }
  const killed = await killPidFile(join(dir, "cluster.pids"));
  if (killed > 0) log(`killed ${killed} leftover control plane process(es)`);
  await rm(stateFile(dir), { force: true });
  return state !== undefined;
}

/** The supervisor: runs in the foreground of its own (detached) process until SIGTERM. */
export async function devServe(dir: string, opts: { nodes: number }): Promise<void> {
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const writeState = (s: Partial<DevState>) =>
    writeFile(
      stateFile(dir),
      JSON.stringify({
        pid: process.pid,
        namespace: DEV_NAMESPACE,
        startedAt: new Date().toISOString(),
        ...s,
      }),
    );
  await writeState({ ready: false });
  let cp: LocalControlPlane | undefined;
  let operator: Manager | undefined;
  const stopAll = async () => {
    log("stopping");
    await operator?.stop();
    await cp?.stop();
    await rm(stateFile(dir), { force: true });
    process.exit(0);
  };
  process.once("SIGTERM", () => void stopAll());
  process.once("SIGINT", () => void stopAll());
  try {
    const clusterDir = join(dir, "cluster");
    await mkdir(clusterDir, { recursive: true });
    cp = await LocalControlPlane.start({
      name: "dev",
      dataDir: clusterDir,
      nodes: opts.nodes,
      log,
      pidFile: join(dir, "cluster.pids"),
    });
    const kubeconfig = join(dir, "kubeconfig");
    await copyFile(cp.kubeconfigPath, kubeconfig);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const client = new KubeClient(kc);
    await installCrds(client, log);
    operator = createOperator({
      kubeConfig: kc,
      log: createLogger({ level: "info" }),
      healthAddress: "127.0.0.1:0",
    });
    await operator.start();
    log(`operator started; probes and metrics on http://${operator.healthAddress}`);
    await applyDemoStack(client, DEV_NAMESPACE, log);
    await writeState({
      ready: true,
      kubeconfig,
      server: cp.server,
      metrics: `http://${operator.healthAddress}/metrics`,
    });
    log("ready");
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`failed: ${message}`);
    await writeState({ ready: false, error: message });
    await operator?.stop();
    await cp?.stop({ keepData: true });
    process.exit(1);
  }
}

/** Applies our CRDs and waits until the API server serves them. */
export async function installCrds(client: KubeClient, log: (l: string) => void): Promise<void> {
  const crds = renderCrds();
  for (const crd of crds) await client.apply(crd as unknown as KubeObject);
  const crdType = await client.resourceType("apiextensions.k8s.io/v1", "CustomResourceDefinition");
  await waitFor(
    "the CRDs to be established",
    async () => {
      for (const crd of crds) {
        const live = await client.get<
          KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
        >(crdType, undefined, crd.metadata.name);
        if (!live?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True"))
          return false;
      }
      return true;
    },
    { timeoutMs: 60_000 },
  );
  log(`installed ${crds.length} CRDs`);
}

async function killPidFile(path: string): Promise<number> {
  const pids = (await readFile(path, "utf8").catch(() => "")).split("\n").map(Number).filter(Boolean);
  let killed = 0;
  for (const pid of pids) {
    if (!isAlive(pid)) continue;
    process.kill(pid, "SIGKILL");
    killed++;
  }
  await rm(path, { force: true });
  return killed;
}

async function tail(dir: string): Promise<string> {
  const text = await readFile(join(dir, "dev.log"), "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-20).join("\n");
}
