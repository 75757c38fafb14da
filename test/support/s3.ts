// A real S3-compatible server on loopback for the backup tests: gofakes3 (in memory, path-style), built from the
// Go module controlplane/s3 and cached like the control plane binaries (src/controlplane/binaries.ts), under
// ~/.cache/zitadel-operator/controlplane/s3-<version>-<hash>. Each test file starts its own server on a free port
// with a fresh bucket and random credentials; the server rejects requests signed with another access key ID.
import { randomBytes } from "node:crypto";
import { ensureGoTestBinary, startGoTestServer } from "./go-binary.ts";

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
  const server = await startGoTestServer(MODULE, binary, bucket, { S3_ACCESS_KEY_ID: accessKey });
  return {
    endpoint: server.endpoint,
    bucket,
    region: "us-east-1",
    accessKey,
    secretKey,
    stop: server.stop,
  };
}
