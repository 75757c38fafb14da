// Every control plane a test starts keeps its process ids in a file in one directory per test run, so the
// global teardown can kill whatever a crashed worker left behind.
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ENV = "ZITADEL_OPERATOR_TEST_RUN_DIR";

export async function runDir(): Promise<string> {
  const dir = process.env[ENV] ?? join(tmpdir(), `zitadel-operator-test-run-${process.pid}`);
  process.env[ENV] = dir;
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function pidFile(name: string): Promise<string> {
  return join(await runDir(), `${name}-${process.pid}.pids`);
}

export async function killRecordedProcesses(): Promise<number[]> {
  const dir = await runDir();
  const killed: number[] = [];
  for (const file of await readdir(dir)) {
    const pids = (await readFile(join(dir, file), "utf8")).split("\n").map(Number).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {
        // already gone
      }
    }
  }
  await rm(dir, { recursive: true, force: true });
  return killed;
}
