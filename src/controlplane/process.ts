// Child processes of a local control plane: started with their output in a log file, stopped by process id,
// and never left behind when the parent exits.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";

const running = new Set<ChildProcess>();

// Last resort: whatever the parent did, its control plane processes die with it ('exit' handlers must be
// synchronous, and process.kill is).
process.once("exit", () => {
  for (const child of running) {
    if (child.pid && child.exitCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  private readonly opts: ManagedProcessOptions;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(opts: ManagedProcessOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.logFile = opts.logFile;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.alive) return;
    const log = createWriteStream(this.opts.logFile, { flags: "a" });
    const child = spawn(this.opts.command, this.opts.args, {
      env: this.opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    running.add(child);
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        running.delete(child);
        resolve();
      });
      child.once("error", (err) => {
        log.write(`\n[zitadel-operator] could not start ${this.opts.command}: ${err.message}\n`);
        running.delete(child);
        resolve();
      });
    });
    child.once("close", () => log.end());
    this.child = child;
  }

  /** SIGTERM, then SIGKILL after the grace period. Resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return this.exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last lines of the log, for error messages when a component does not come up. */
  async tail(lines = 20): Promise<string> {
    const text = await readFile(this.logFile, "utf8").catch(() => "");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  }
}

/** Polls `check` until it returns true; throws with `describe()` once `timeoutMs` passes. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; fail?: () => Promise<string | undefined> },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    const failure = await opts.fail?.();
    if (failure) throw new Error(`${what}: ${failure}`);
    if (Date.now() > deadline)
      throw new Error(`timed out after ${opts.timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** Whether a process with this id exists (signal 0 checks without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
