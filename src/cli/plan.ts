import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Command } from "commander";
import { simpleGit } from "simple-git";
import { fetchRevision, type GitRef } from "../gitops/fetch.ts";
import { loadManifests } from "../gitops/manifests.ts";
import { formatPlan, planAgainstCluster, type SyncPlan } from "../gitops/plan.ts";
import { parseAgeIdentities } from "../gitops/sops.ts";
import { KubeClient } from "../runtime/kube.ts";

/** `main` is a branch; `tag:v1.2.0`, `semver:^1.2` and a full commit hash say what they are. */
export function parseRefArgument(text: string): GitRef {
  if (/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(text)) return { commit: text };
  const [prefix, ...rest] = text.split(":");
  const value = rest.join(":");
  if (rest.length > 0 && value !== "") {
    if (prefix === "branch") return { branch: value };
    if (prefix === "tag") return { tag: value };
    if (prefix === "semver") return { semver: value };
    if (prefix === "commit") return { commit: value };
  }
  return { branch: text };
}

interface PlanOptions {
  path: string;
  ref?: string;
  ageKeyFile?: string;
  kubeconfig?: string;
  namespace: string;
  source?: string;
  output: string;
}

function planToJson(plan: SyncPlan): unknown {
  return {
    problems: plan.problems,
    objects: plan.objects.map((p) => ({
      apiVersion: p.manifest.object.apiVersion,
      kind: p.manifest.object.kind,
      namespace: p.manifest.object.metadata?.namespace,
      name: p.manifest.object.metadata?.name,
      file: p.manifest.file,
      index: p.manifest.index,
      encrypted: p.manifest.encrypted,
      ...(p.action === undefined ? {} : { action: p.action }),
      ...(p.fields === undefined ? {} : { fields: p.fields }),
      ...(p.error === undefined ? {} : { error: p.error }),
    })),
    ...(plan.prune === undefined
      ? {}
      : {
          prune: {
            inventorySource: plan.inventorySource,
            delete: plan.prune.delete.map((e) => e.id),
            refused: plan.prune.refused.map((r) => ({
              id: r.entry.id,
              reason: r.reason,
              message: r.message,
            })),
            blocked: plan.prune.blocked,
          },
        }),
  };
}

export function registerPlanCommand(program: Command): void {
  program
    .command("plan")
    .description(
      "Show what a GitSource sync of a repository would create, change and prune, without applying anything: " +
        "parse, decrypt and validate every file under --path; with --kubeconfig, compare with the cluster by " +
        "server-side dry-run apply.",
    )
    .argument("<repo-path>", "a local Git repository (or any directory, without --ref)")
    .option("--path <dir>", "directory inside the repository, as spec.path", ".")
    .option(
      "--ref <ref>",
      "check out this ref as a sync would: a branch, tag:<name>, semver:<range> or a commit hash " +
        "(default: the files as they are on disk, uncommitted changes included)",
    )
    .option("--age-key-file <file>", "age identities for SOPS files, as in spec.decryption")
    .option("--kubeconfig <path>", "compare with this cluster (dry-run only; nothing is written)")
    .option(
      "-n, --namespace <namespace>",
      "namespace of objects without one (spec.targetNamespace)",
      "default",
    )
    .option("--source <namespace/name>", "the GitSource that syncs this repository (labels and inventory)")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (repoPath: string, opts: PlanOptions) => {
      if (opts.output !== "text" && opts.output !== "json")
        throw new Error(`--output must be text or json, not ${opts.output}`);
      const [sourceNamespace, sourceName] = (opts.source ?? `${opts.namespace}/plan`).split("/");
      if (!sourceNamespace || !sourceName) throw new Error("--source must be <namespace>/<name>");
      if (opts.kubeconfig !== undefined && opts.source === undefined) {
        throw new Error(
          "--kubeconfig needs --source <namespace>/<name>: the GitSource whose sync to preview",
        );
      }
      const identities =
        opts.ageKeyFile === undefined
          ? undefined
          : parseAgeIdentities(await readFile(opts.ageKeyFile, "utf8"));

      const repoDir = resolve(repoPath);
      let rootDir = repoDir;
      let revision = "working-tree";
      let author: string | undefined;
      let cacheDir: string | undefined;
      try {
        if (opts.ref !== undefined) {
          cacheDir = await mkdtemp(join(tmpdir(), "zitadel-operator-plan-"));
          const fetched = await fetchRevision({
            url: `file://${repoDir}`,
            ref: parseRefArgument(opts.ref),
            cacheDir,
          });
          rootDir = fetched.worktreeDir;
          revision = fetched.revision;
          author = fetched.author;
          console.error(
            `revision ${fetched.revision} (${fetched.ref}) by ${fetched.author}: ${fetched.message.split("\n")[0]}`,
          );
        } else {
          const head = await simpleGit(repoDir)
            .revparse(["HEAD"])
            .catch(() => undefined);
          if (head !== undefined) revision = head.trim();
          console.error(`files on disk in ${repoDir}${head === undefined ? "" : ` (HEAD ${revision})`}`);
        }

        const built = await loadManifests(rootDir, opts.path, {
          identities,
          defaultNamespace: opts.namespace,
        });
        let plan: SyncPlan;
        if (!built.ok) {
          plan = { objects: [], problems: built.problems };
        } else if (opts.kubeconfig !== undefined) {
          const kc = new KubeConfig();
          kc.loadFromFile(opts.kubeconfig);
          const from = {
            source: { namespace: sourceNamespace, name: sourceName },
            revision,
            ...(author ? { author } : {}),
          };
          plan = await planAgainstCluster(new KubeClient(kc), built.objects, from);
        } else {
          plan = { objects: built.objects.map((manifest) => ({ manifest })), problems: [] };
        }
        process.stdout.write(
          opts.output === "json" ? `${JSON.stringify(planToJson(plan), null, 2)}\n` : formatPlan(plan),
        );
        if (plan.problems.length > 0) {
          throw new Error(`${plan.problems.length} problem(s) in the revision; a sync would apply nothing`);
        }
        if (plan.objects.some((p) => p.action === "error"))
          throw new Error("the API server refused some objects");
      } finally {
        if (cacheDir !== undefined) await rm(cacheDir, { recursive: true, force: true });
      }
    });
}
