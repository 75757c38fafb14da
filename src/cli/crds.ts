import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { renderCrdFiles, renderCrdsYaml } from "../api/crds.ts";
import { GROUP } from "../api/group.ts";

/** Writes one file per CRD into `dir` and removes CRD files of kinds that no longer exist. Returns what changed. */
export async function writeCrdFiles(dir: string): Promise<{ written: string[]; removed: string[] }> {
  const files = renderCrdFiles();
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, content] of files) {
    const path = join(dir, name);
    const current = await readFile(path, "utf8").catch(() => undefined);
    // Untouched files keep their mtime, so `make`-style tooling sees no change.
    if (current === content) continue;
    await writeFile(path, content);
    written.push(path);
  }
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.endsWith(`.${GROUP}.yaml`) && !files.has(name)) {
      await rm(join(dir, name));
      removed.push(join(dir, name));
    }
  }
  return { written, removed };
}

export function registerCrdsCommand(program: Command): void {
  program
    .command("crds")
    .description(
      "Print the CustomResourceDefinitions of all kinds as one YAML stream, or write one file per kind.",
    )
    .option("--out <dir>", `write <plural>.${GROUP}.yaml files into <dir> instead of printing`)
    .action(async (options: { out?: string }) => {
      if (options.out === undefined) {
        // `zitadel-operator crds | head` closes the pipe early; that is not an error.
        process.stdout.on("error", (err: NodeJS.ErrnoException) => {
          if (err.code !== "EPIPE") throw err;
        });
        process.stdout.write(renderCrdsYaml());
        return;
      }
      const { written, removed } = await writeCrdFiles(options.out);
      for (const path of written) console.error(`wrote ${path}`);
      for (const path of removed) console.error(`removed ${path}`);
    });
}
