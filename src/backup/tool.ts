// Runs pg_dump and pg_restore as child processes: stdout can be streamed, stderr is kept (its tail) for the error
// message, and the child is killed if the caller gives up, so a failed upload never leaves pg_dump blocked on a
// full pipe.
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";

const STDERR_TAIL = 4000;

export interface RunningTool {
  readonly stdout: Readable;
  /** Exit code and the tail of stderr; rejects only if the program could not be started. */
  readonly finished: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(): void;
}

export function startTool(command: string, args: readonly string[], env: NodeJS.ProcessEnv): RunningTool {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(command, args, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
  });
  const finished = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve, reject) => {
      child.on("error", (err) => reject(new Error(`could not run ${command}: ${err.message}`)));
      child.on("close", (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
    },
  );
  return {
    stdout: child.stdout,
    finished,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
  };
}

/** Runs a tool to completion, discarding stdout; the same result as RunningTool.finished. */
export async function runTool(command: string, args: readonly string[], env: NodeJS.ProcessEnv) {
  const tool = startTool(command, args, env);
  tool.stdout.resume();
  return tool.finished;
}
