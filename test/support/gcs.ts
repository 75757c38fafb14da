// A real GCS-compatible server on loopback for the backup tests: fake-gcs-server (in memory, the JSON API over plain
// HTTP), built from the Go module controlplane/gcs and cached like the S3 server (test/support/s3.ts), under
// ~/.cache/zitadel-operator/controlplane/gcs-<version>-<hash>. Each test file starts its own server on a free port
// with a fresh bucket and a fresh service account key; the server rejects requests whose bearer token that key did
// not sign. Only the public key reaches the server.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { ensureGoTestBinary, startGoTestServer } from "./go-binary.ts";

const MODULE = "gcs";
const PINNED = "github.com/fsouza/fake-gcs-server";

export interface GcsServer {
  readonly endpoint: string;
  readonly bucket: string;
  /** A service account JSON key, as a user puts it into the Secret of destination.gcs.credentialsSecretRef. */
  readonly credentialsJson: string;
  /** The key's private part, for tests that search output for it. */
  readonly privateKey: string;
  stop(): Promise<void>;
}

/** The path of the gcs server binary, building it on first use (about a minute with a warm Go module cache). */
export function ensureGcsServerBinary(): Promise<string> {
  return ensureGoTestBinary(MODULE, PINNED);
}

/** A fresh service account key in Google's JSON key format; the project and account do not exist anywhere. */
export function serviceAccountKey(): { json: string; email: string; privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const email = `backup-${randomBytes(4).toString("hex")}@test-project.iam.gserviceaccount.com`;
  const json = JSON.stringify({
    type: "service_account",
    project_id: "test-project",
    private_key_id: randomBytes(20).toString("hex"),
    private_key: privateKey,
    client_email: email,
    client_id: String(randomBytes(8).readBigUInt64BE()),
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: "https://oauth2.googleapis.com/token",
  });
  return { json, email, privateKey, publicKey };
}

/** Starts a GCS server on 127.0.0.1 with one empty bucket that accepts only a fresh service account. */
export async function startGcsServer(bucket = "backups"): Promise<GcsServer> {
  const binary = await ensureGcsServerBinary();
  const key = serviceAccountKey();
  const server = await startGoTestServer(MODULE, binary, bucket, {
    GCS_CLIENT_EMAIL: key.email,
    GCS_PUBLIC_KEY_PEM: key.publicKey,
  });
  return {
    endpoint: server.endpoint,
    bucket,
    credentialsJson: key.json,
    privateKey: key.privateKey,
    stop: server.stop,
  };
}
