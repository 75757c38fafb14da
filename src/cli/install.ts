import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "commander";
import { renderChartFiles } from "../install/chart.ts";
import {
  DEFAULT_IMAGE,
  DEFAULT_NAMESPACE,
  type InstallObject,
  type InstallOptions,
  renderInstallManifests,
  renderInstallYaml,
  renderRemoteRoleYaml,
} from "../install/manifests.ts";
import { KubeClient } from "../runtime/kube.ts";

// Chart folders whose every file is generated: files in them that we no longer generate are removed.
const GENERATED_CHART_DIRS = ["crds", "templates"];

async function writeIfChanged(path: string, content: string): Promise<boolean> {
  // Untouched files keep their mtime, so `make`-style tooling sees no change.
  if ((await readFile(path, "utf8").catch(() => undefined)) === content) return false;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  return true;
}

/** Writes the install manifests to `path`. Returns whether the file changed. */
export function writeInstallManifest(path: string, options: InstallOptions): Promise<boolean> {
  return writeIfChanged(path, renderInstallYaml(options));
}

/** Writes the Helm chart into `dir`. Returns what changed. */
export async function writeChart(dir: string): Promise<{ written: string[]; removed: string[] }> {
  const files = renderChartFiles();
  const written: string[] = [];
  for (const [name, content] of files) {
    if (await writeIfChanged(join(dir, name), content)) written.push(join(dir, name));
  }
  const removed: string[] = [];
  for (const sub of GENERATED_CHART_DIRS) {
    for (const name of await readdir(join(dir, sub))) {
      if (files.has(`${sub}/${name}`)) continue;
      await rm(join(dir, sub, name));
      removed.push(join(dir, sub, name));
    }
  }
  return { written, removed };
}

/**
 * Server-side applies the install manifests in order (Namespace and CRDs first). A dry run sends every object
 * with dryRun=All, so nothing is stored: the namespace must then exist already, as with
 * `kubectl apply --dry-run=server`, because namespaced objects are validated against it.
 */
export async function applyInstallManifests(
  client: KubeClient,
  objects: InstallObject[],
  opts: { dryRun?: boolean; log?: (line: string) => void } = {},
): Promise<void> {
  for (const obj of objects) {
    await client.apply(obj, { dryRun: opts.dryRun });
    const where = obj.metadata.namespace ? ` in ${obj.metadata.namespace}` : "";
    opts.log?.(`${obj.kind} ${obj.metadata.name}${where} applied${opts.dryRun ? " (dry run)" : ""}`);
  }
}

interface InstallCommandOptions {
  print?: boolean;
  out?: string;
  chart?: string;
  dryRun?: boolean;
  namespace: string;
  image: string;
  replicas: string;
  leaderElect: boolean;
  remoteRole?: string;
}

export function registerInstallCommand(program: Command): void {
  program
    .command("install")
    .description(
      "Install the operator (namespace, CRDs, RBAC, Deployment) into the cluster of the current kubeconfig " +
        "by server-side apply, or print or write the manifests.",
    )
    .option("--print", "print the manifests as one YAML stream instead of applying them")
    .option("--out <file>", "write the manifests to <file> instead of applying them (manifests/install.yaml)")
    .option("--chart <dir>", "(re)generate the Helm chart in <dir> (charts/zitadel-operator)")
    .option("--dry-run", "send everything with dryRun=All: the API server validates, nothing is stored")
    .option("--namespace <name>", "namespace the operator runs in", DEFAULT_NAMESPACE)
    .option("--image <ref>", "operator image", DEFAULT_IMAGE)
    .option("--replicas <n>", "operator replicas (one leads, the others wait)", "2")
    .option("--no-leader-elect", "run without leader election (only with --replicas 1)")
    .option(
      "--remote-role <namespace>",
      "print the ServiceAccount, Role and RoleBinding a RemoteCluster's kubeconfig needs in <namespace> of the other cluster",
    )
    .action(async (options: InstallCommandOptions) => {
      if (options.remoteRole !== undefined) {
        process.stdout.write(renderRemoteRoleYaml(options.remoteRole));
        return;
      }
      const replicas = Number(options.replicas);
      const install: InstallOptions = {
        namespace: options.namespace,
        image: options.image,
        replicas,
        leaderElect: options.leaderElect,
      };
      // Render first, so bad options fail before anything is written.
      const objects = renderInstallManifests(install);
      if (options.print) {
        // `zitadel-operator install --print | head` closes the pipe early; that is not an error.
        process.stdout.on("error", (err: NodeJS.ErrnoException) => {
          if (err.code !== "EPIPE") throw err;
        });
        process.stdout.write(renderInstallYaml(install));
      }
      if (options.out !== undefined && (await writeInstallManifest(options.out, install)))
        console.error(`wrote ${options.out}`);
      if (options.chart !== undefined) {
        const { written, removed } = await writeChart(options.chart);
        for (const path of written) console.error(`wrote ${path}`);
        for (const path of removed) console.error(`removed ${path}`);
      }
      if (options.print || options.out !== undefined || options.chart !== undefined) return;
      const kc = new KubeConfig();
      kc.loadFromDefault();
      await applyInstallManifests(new KubeClient(kc), objects, {
        dryRun: options.dryRun,
        log: (line) => console.error(line),
      });
    });
}
