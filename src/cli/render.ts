import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { parseAllDocuments } from "yaml";
import type { Resource } from "../api/kinds.ts";
import { parseResource } from "../api/validate.ts";
import { objectsToJson, objectsToYaml, renderResource } from "../render/index.ts";

export interface LoadedResource {
  /** "file:document", documents counted from 1, for messages. */
  readonly source: string;
  readonly resource: Resource;
}

/** Every resource in `paths` (files, or directories whose *.yaml and *.yml files are read in name order). */
export async function loadResources(
  paths: readonly string[],
  defaultNamespace: string,
): Promise<{ resources: LoadedResource[]; problems: string[] }> {
  const resources: LoadedResource[] = [];
  const problems: string[] = [];
  for (const file of await expandPaths(paths, problems)) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      problems.push(`${file}: cannot read: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    parseAllDocuments(text).forEach((doc, index) => {
      const source = `${file}:${index + 1}`;
      if (doc.errors.length > 0) {
        for (const error of doc.errors)
          problems.push(`${source}: invalid YAML: ${error.message.split("\n")[0]}`);
        return;
      }
      const value = doc.toJS() as unknown;
      // An empty document (a trailing ---, or only comments) is not a resource.
      if (value === null || value === undefined) return;
      const parsed = parseResource(value);
      if (!parsed.ok) {
        for (const issue of parsed.issues)
          problems.push(
            issue.path === "" ? `${source}: ${issue.message}` : `${source}: ${issue.path}: ${issue.message}`,
          );
        return;
      }
      // As kubectl apply -n would: the namespace the objects land in, and the one DNS names are built from.
      const resource = parsed.resource;
      if (resource.metadata.namespace === undefined) resource.metadata.namespace = defaultNamespace;
      resources.push({ source, resource });
    });
  }
  return { resources, problems };
}

async function expandPaths(paths: readonly string[], problems: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) {
      problems.push(`${path}: no such file or directory`);
    } else if (info.isDirectory()) {
      const names = (await readdir(path)).filter((name) => /\.ya?ml$/.test(name)).sort();
      files.push(...names.map((name) => join(path, name)));
    } else {
      files.push(path);
    }
  }
  return files;
}

/** The rendered objects of every resource, in input order, as YAML or a JSON List. */
export function renderLoaded(resources: readonly LoadedResource[], output: "yaml" | "json"): string {
  const related = resources.map((loaded) => loaded.resource);
  const objects = resources.flatMap((loaded) => renderResource(loaded.resource, { related }));
  return output === "json" ? objectsToJson(objects) : objectsToYaml(objects);
}

export function registerRenderCommand(program: Command): void {
  program
    .command("render")
    .description(
      "Print the Kubernetes objects the operator creates for the resources in YAML files, without a cluster. " +
        "Invalid resources are reported as file:document: field: message, and nothing is printed.",
    )
    .requiredOption("-f, --filename <paths...>", "YAML files (several documents each) or directories of them")
    .option("-o, --output <format>", "yaml or json", "yaml")
    .option("-n, --namespace <namespace>", "namespace of resources without metadata.namespace", "default")
    .action(async (options: { filename: string[]; output: string; namespace: string }) => {
      if (options.output !== "yaml" && options.output !== "json")
        throw new Error(`--output must be yaml or json, not ${options.output}`);
      const { resources, problems } = await loadResources(options.filename, options.namespace);
      if (problems.length > 0) {
        for (const problem of problems) console.error(problem);
        throw new Error(
          `${problems.length} problem${problems.length === 1 ? "" : "s"} in the input; nothing rendered`,
        );
      }
      // `zitadel-operator render ... | head` closes the pipe early; that is not an error.
      process.stdout.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code !== "EPIPE") throw err;
      });
      process.stdout.write(renderLoaded(resources, options.output));
    });
}
