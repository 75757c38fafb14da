// Builds a test server from one of the small Go modules under controlplane/ (s3, gcs) and caches it like the
// control plane binaries (src/controlplane/binaries.ts): under ~/.cache/zitadel-operator/controlplane/
// <module>-<pinned version>-<hash of go.mod, go.sum, main.go and the Go version>. Seconds to a minute on first
// use with a warm module cache, instant afterwards.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { cacheRoot, repoRoot } from "../../src/controlplane/binaries.ts";
import { pidFile } from "./processes.ts";

const run = promisify(execFile);

/** The path of controlplane/<module>'s binary, built on first use; `pinned` is the module it wraps. */
export async function ensureGoTestBinary(module: string, pinned: string): Promise<string> {
  const go = process.env.ZITADEL_OPERATOR_GO ?? "go";
  const moduleDir = join(repoRoot, "controlplane", module);
  const gomod = await readFile(join(moduleDir, "go.mod"), "utf8");
  const version = gomod.match(
    new RegExp(`^\\s*(?:require\\s+)?${pinned.replaceAll(".", "\\.")}\\s+(v\\S+)`, "m"),
  )?.[1];
  if (version === undefined) throw new Error(`${pinned} is not required in ${moduleDir}/go.mod`);
  const { stdout: goVersion } = await run(go, ["env", "GOVERSION"]);
  const hash = createHash("sha256")
    .update(gomod)
    .update(await readFile(join(moduleDir, "go.sum")))
    .update(await readFile(join(moduleDir, "main.go")))
    .update(goVersion.trim())
    .digest("hex")
    .slice(0, 12);
  const dir = join(cacheRoot(), `${module}-${version}-${hash}`);
  const binary = join(dir, module);
  if (existsSync(binary)) return binary;

  // Build beside the cache entry and rename: concurrent builders each produce a whole binary, the last wins.
  const tmp = `${dir}.tmp-${process.pid}`;
  await mkdir(tmp, { recursive: true });
  try {
    await run(go, ["build", "-trimpath", "-ldflags", "-s -w", "-o", join(tmp, module), "."], {
      cwd: moduleDir,
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
    });
    await mkdir(dir, { recursive: true });
    await rename(join(tmp, module), binary);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return binary;
}

/**
 * Starts a test server built by ensureGoTestBinary on loopback (`-listen 127.0.0.1:0 -bucket <bucket>`) and waits
 * for its "listening on <url>" line; the pid goes into the run's pid file so a crashed test cannot leave it behind.
 */
export async function startGoTestServer(
  module: string,
  binary: string,
  bucket: string,
  env: Record<string, string>,
): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(binary, ["-listen", "127.0.0.1:0", "-bucket", bucket], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid !== undefined) await appendFile(await pidFile(module), `${child.pid}\n`);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the ${module} server did not start in 10s: ${stderr}`)),
      10_000,
    );
    child.once("exit", (code) => reject(new Error(`the ${module} server exited with ${code}: ${stderr}`)));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      const match = line.match(/^listening on (http:\/\/\S+)$/);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
