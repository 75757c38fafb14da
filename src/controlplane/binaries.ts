// Builds the test and dev control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok)
// from source through the Go module proxy and caches the binaries outside the repository.
//
// Why from source: no prebuilt Kubernetes binaries can be downloaded on the machines we run on, and Docker
// (kind, k3d) is not there either. The Go modules under controlplane/ pin every version and checksum.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { constants, existsSync } from "node:fs";
import { access, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { isAlive } from "./process.ts";

const run = promisify(execFile);

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
  /** kwok's own default Stages (node, pod, volume lifecycles) from the kwok module we built. */
  kwokStages: string;
}

/** One Go module under controlplane/ and the binaries built from it. */
interface Component {
  module: string;
  /** Go package path -> binary name. */
  packages: Record<string, string>;
  /** Extra linker flags derived from the module's pinned version. */
  ldflags?: (version: string) => string[];
  /** The module whose pinned version names the cache entry. */
  versionOf: string;
  /** Other files the component needs, taken from the module source after the build. */
  extraFiles?: (go: string, moduleDir: string, outDir: string) => Promise<string[]>;
}

const COMPONENTS: Component[] = [
  {
    module: "kube",
    versionOf: "k8s.io/kubernetes",
    packages: {
      "k8s.io/kubernetes/cmd/kube-apiserver": "kube-apiserver",
      "k8s.io/kubernetes/cmd/kube-controller-manager": "kube-controller-manager",
      "k8s.io/kubernetes/cmd/kube-scheduler": "kube-scheduler",
    },
    // Without these the server reports v0.0.0-master, which clients that check the server version reject.
    ldflags: (v) => {
      const [major, minor] = v.replace(/^v/, "").split(".");
      return [
        `-X k8s.io/component-base/version.gitVersion=${v}`,
        `-X k8s.io/component-base/version.gitMajor=${major}`,
        `-X k8s.io/component-base/version.gitMinor=${minor}`,
        "-X k8s.io/component-base/version.gitTreeState=clean",
      ];
    },
  },
  { module: "etcd", versionOf: "go.etcd.io/etcd/server/v3", packages: { ".": "etcd" } },
  {
    module: "kwok",
    versionOf: "sigs.k8s.io/kwok",
    packages: { "sigs.k8s.io/kwok/cmd/kwok": "kwok" },
    extraFiles: kwokStages,
  },
];

/**
 * The kwok binary simulates nothing until it is given Stages. kwok publishes its default ones in its module
 * (kustomize/stage/...): nodes become Ready and renew their leases, pods become Ready, Job pods complete,
 * claims of the kwok-volume StorageClass get a bound PersistentVolume. We use those files as published.
 */
const KWOK_STAGES = [
  "node/fast/node-initialize.yaml",
  "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
  "pod/fast/pod-ready.yaml",
  "pod/fast/pod-complete.yaml",
  "pod/fast/pod-delete.yaml",
  "volume/fast/pvc-provision.yaml",
  "volume/fast/pv-bind.yaml",
  "volume/fast/pv-delete.yaml",
  "volume/fast/pvc-delete.yaml",
];

async function kwokStages(go: string, moduleDir: string, outDir: string): Promise<string[]> {
  const { stdout } = await run(go, ["list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"], { cwd: moduleDir });
  const source = join(stdout.trim(), "kustomize", "stage");
  const docs = await Promise.all(KWOK_STAGES.map((f) => readFile(join(source, f), "utf8")));
  await writeFile(join(outDir, "stages.yaml"), docs.map((d) => d.trim()).join("\n---\n"));
  return ["stages.yaml"];
}

export const repoRoot = resolve(import.meta.dirname, "..", "..");

export function cacheRoot(): string {
  const base =
    process.env.ZITADEL_OPERATOR_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "zitadel-operator");
  return join(base, "controlplane");
}

export class ControlPlaneBuildError extends Error {
  override name = "ControlPlaneBuildError";
}

export interface EnsureOptions {
  /** Called with one line per step, for progress output. */
  log?: (line: string) => void;
}

/**
 * Returns the paths of the control plane binaries, building whatever is not cached yet.
 * The cache key is the pinned version plus a hash of go.mod, go.sum, the Go version and our build flags,
 * so a changed pin builds anew and an unchanged one starts in milliseconds.
 */
export async function ensureControlPlaneBinaries(opts: EnsureOptions = {}): Promise<ControlPlaneBinaries> {
  const log = opts.log ?? (() => {});
  const go = await findGo();
  const paths: Record<string, string> = {};
  for (const c of COMPONENTS) {
    const dir = await ensureComponent(c, go, log);
    for (const name of Object.values(c.packages)) paths[name] = join(dir, name);
  }
  paths.stages = join(paths.kwok ?? "", "..", "stages.yaml");
  return {
    etcd: need(paths, "etcd"),
    kubeApiserver: need(paths, "kube-apiserver"),
    kubeControllerManager: need(paths, "kube-controller-manager"),
    kubeScheduler: need(paths, "kube-scheduler"),
    kwok: need(paths, "kwok"),
    kwokStages: need(paths, "stages"),
  };
}

function need(paths: Record<string, string>, name: string): string {
  const p = paths[name];
  if (!p) throw new Error(`no binary named ${name} in the control plane components`);
  return p;
}

interface GoToolchain {
  bin: string;
  version: string;
}

async function findGo(): Promise<GoToolchain> {
  const bin = process.env.ZITADEL_OPERATOR_GO ?? "go";
  try {
    const { stdout } = await run(bin, ["env", "GOVERSION"]);
    return { bin, version: stdout.trim() };
  } catch {
    throw new ControlPlaneBuildError(
      `Go was not found (tried '${bin}'). The test and dev control plane is built from source with Go 1.24 or ` +
        "newer: install Go (on Debian: apt-get install golang, or a release from go.dev) and make sure `go` " +
        "is on PATH, or point ZITADEL_OPERATOR_GO at the go binary.",
    );
  }
}

async function pinnedVersion(moduleDir: string, modulePath: string): Promise<string> {
  const gomod = await readFile(join(moduleDir, "go.mod"), "utf8");
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const m = gomod.match(new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m"));
  if (!m?.[1]) throw new Error(`${modulePath} is not required in ${moduleDir}/go.mod`);
  return m[1];
}

async function ensureComponent(c: Component, go: GoToolchain, log: (l: string) => void): Promise<string> {
  const moduleDir = join(repoRoot, "controlplane", c.module);
  const version = await pinnedVersion(moduleDir, c.versionOf);
  const ldflags = ["-s", "-w", ...(c.ldflags?.(version) ?? [])].join(" ");
  const hash = createHash("sha256")
    .update(await readFile(join(moduleDir, "go.mod")))
    .update(await readFile(join(moduleDir, "go.sum")))
    .update(go.version)
    .update(ldflags)
    .digest("hex")
    .slice(0, 12);
  const dir = join(cacheRoot(), `${c.module}-${version}-${hash}`);
  const binaries = Object.values(c.packages).map((n) => join(dir, n));
  const complete = async () => (await allExecutable(binaries)) && existsSync(join(dir, ".complete"));
  if (await complete()) return dir;

  await mkdir(cacheRoot(), { recursive: true });
  const release = await lock(`${dir}.lock`, log);
  try {
    // Another process may have finished the build while we waited for the lock.
    if (await complete()) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    log(`building ${Object.values(c.packages).join(", ")} ${version} from source (first time only)...`);
    const started = Date.now();
    await goBuild(go.bin, moduleDir, tmp, ldflags, Object.keys(c.packages));
    await c.extraFiles?.(go.bin, moduleDir, tmp);
    await writeFile(join(tmp, ".complete"), `${version} built with ${go.version}\n`);
    log(`built ${c.module} ${version} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return dir;
  } finally {
    await release();
  }
}

async function allExecutable(files: string[]): Promise<boolean> {
  try {
    await Promise.all(files.map((f) => access(f, constants.X_OK)));
    return true;
  } catch {
    return false;
  }
}

function goBuild(
  go: string,
  cwd: string,
  outDir: string,
  ldflags: string,
  packages: string[],
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const args = ["build", "-trimpath", "-ldflags", ldflags, "-o", `${outDir}/`, ...packages];
    const child = spawn(go, args, {
      cwd,
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (err) => reject(new ControlPlaneBuildError(`could not run ${go}: ${err.message}`)));
    child.on("close", (code) => {
      if (code === 0) return resolvePromise();
      reject(new ControlPlaneBuildError(explainBuildFailure(cwd, output)));
    });
  });
}

/** Turns go's output into one message that says what to do. */
export function explainBuildFailure(moduleDir: string, output: string): string {
  const tail = output.trim().split("\n").slice(-15).join("\n");
  const proxy = process.env.GOPROXY ?? "the default GOPROXY";
  const unreachable =
    /dial tcp|no such host|i\/o timeout|connection refused|TLS handshake|403 Forbidden|404 Not Found|GOPROXY=off/;
  if (unreachable.test(output)) {
    return (
      `could not download the control plane's Go modules (${moduleDir}) from the module proxy (${proxy}). ` +
      "Check the network or set GOPROXY to a reachable proxy, then run the command again.\n" +
      tail
    );
  }
  if (/no space left on device/.test(output)) {
    return `the control plane build ran out of disk space (Go's build cache needs about 3 GiB).\n${tail}`;
  }
  if (/requires go >= |go: updates to go.mod needed|toolchain/.test(output)) {
    return `the Go toolchain is too old for ${moduleDir}: install a newer Go.\n${tail}`;
  }
  return `building the control plane from ${moduleDir} failed:\n${tail}`;
}

/** A lock file held while a component builds, so parallel test workers and `dev up` build it once. */
async function lock(path: string, log: (l: string) => void): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    try {
      const fh = await open(path, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (!holder || !isAlive(holder)) {
        await rm(path, { force: true });
        continue;
      }
      if (!announced) log(`waiting for another build (pid ${holder}) of the same component...`);
      announced = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}
