// A real S3-compatible server on loopback for the backup tests: gofakes3 (in memory, path-style), built from the
// Go module controlplane/s3 and cached like the control plane binaries (src/controlplane/binaries.ts), under
// ~/.cache/zitadel-operator/controlplane/s3-<version>-<hash>. Each test file starts its own server on a free port
// with a fresh bucket and random credentials; the server rejects requests signed with another access key ID.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { ensureGoTestBinary } from "./go-binary.ts";
import { pidFile } from "./processes.ts";

const MODULE = "s3";
const PINNED = "github.com/johannesboyne/gofakes3";

export interface S3Server {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKey: string;
  readonly secretKey: string;
  stop(): Promise<void>;
}

/** The path of the s3 server binary, building it on first use (seconds, with a warm Go module cache). */
export function ensureS3ServerBinary(): Promise<string> {
  return ensureGoTestBinary(MODULE, PINNED);
}

/** Starts an S3 server on 127.0.0.1 with one empty bucket and fresh random credentials. */
export async function startS3Server(bucket = "backups"): Promise<S3Server> {
  const binary = await ensureS3ServerBinary();
  const accessKey = `AK${randomBytes(9).toString("hex").toUpperCase()}`;
  const secretKey = randomBytes(24).toString("base64url");
  const child: ChildProcess = spawn(binary, ["-listen", "127.0.0.1:0", "-bucket", bucket], {
    env: { PATH: process.env.PATH, S3_ACCESS_KEY_ID: accessKey },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid !== undefined) await appendFile(await pidFile("s3"), `${child.pid}\n`);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the S3 server did not start in 10s: ${stderr}`)),
      10_000,
    );
    child.once("exit", (code) => reject(new Error(`the S3 server exited with ${code}: ${stderr}`)));
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
    bucket,
    region: "us-east-1",
    accessKey,
    secretKey,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
