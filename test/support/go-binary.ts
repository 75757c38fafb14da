// Builds a test server from one of the small Go modules under controlplane/ (s3, gcs) and caches it like the
// control plane binaries (src/controlplane/binaries.ts): under ~/.cache/zitadel-operator/controlplane/
// <module>-<pinned version>-<hash of go.mod, go.sum, main.go and the Go version>. Seconds to a minute on first
// use with a warm module cache, instant afterwards.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { cacheRoot, repoRoot } from "../../src/controlplane/binaries.ts";

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
