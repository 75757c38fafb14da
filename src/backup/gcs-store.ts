// An object store on Google Cloud Storage or a GCS-compatible endpoint (Private Service Connect, fake-gcs-server in
// tests), through @google-cloud/storage. A put is a resumable upload sent in chunks of CHUNK_SIZE bytes: memory
// stays at one chunk whatever the size of the dump, and GCS creates the object only when the last chunk arrives,
// so a source that fails midway leaves no object behind (the unfinished session expires after a week).
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Bucket, Storage, type StorageOptions } from "@google-cloud/storage";
// google-auth-library is @google-cloud/storage's own authentication library (a dependency of it, pinned by it).
import { JWT } from "google-auth-library";
import {
  DigestingStream,
  type ObjectBody,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
  type PutResult,
  toReadable,
} from "./store.ts";

/** A multiple of 256 KiB, as resumable uploads require; the same 8 MiB as the S3 store's parts. */
export const CHUNK_SIZE = 8 * 1024 * 1024;

const SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";

export interface GcsStoreSettings {
  readonly bucket: string;
  /** Key prefix for every object of this store; keys passed to the methods are relative to it. */
  readonly prefix?: string;
  /** A GCS-compatible endpoint such as a Private Service Connect one; storage.googleapis.com when unset. */
  readonly endpoint?: string;
  /** A service account JSON key from a Secret; ambient credentials (Workload Identity, ADC) when unset. */
  readonly credentialsJson?: string;
  readonly chunkSize?: number;
}

export class GcsStore implements ObjectStore {
  readonly description: string;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  private readonly chunkSize: number;

  constructor(settings: GcsStoreSettings) {
    this.prefix = normalizePrefix(settings.prefix);
    this.chunkSize = settings.chunkSize ?? CHUNK_SIZE;
    this.description = `gs://${settings.bucket}/${this.prefix}`;
    const options: StorageOptions = {
      ...(settings.endpoint === undefined ? {} : { apiEndpoint: settings.endpoint.replace(/\/+$/, "") }),
      // The library sends no credentials to a custom endpoint unless told to; a Private Service Connect endpoint
      // is Google's own API and needs them.
      useAuthWithCustomEndpoint: true,
      ...(settings.credentialsJson === undefined
        ? {}
        : { authClient: serviceAccountClient(settings.credentialsJson) }),
    };
    this.bucket = new Storage(options).bucket(settings.bucket);
  }

  async put(key: string, body: ObjectBody): Promise<PutResult> {
    const file = this.bucket.file(this.keyOf(key));
    const metadata = { contentType: "application/octet-stream" };
    // The session is opened here rather than by createWriteStream: @google-cloud/storage 8.4 forgets
    // useAuthWithCustomEndpoint on that path and would open it without credentials at a custom endpoint.
    // The chunks then go to the session's URI, which authorizes them itself (as GCS documents).
    const [uri] = await file.createResumableUpload({ metadata });
    const digest = new DigestingStream();
    const upload = file.createWriteStream({
      uri,
      // A new session holds no bytes: saying so saves the status request the library would send first (which
      // fake-gcs-server, unlike GCS, takes as the end of an empty upload).
      offset: 0,
      resumable: true,
      chunkSize: this.chunkSize,
      metadata,
      // The library also checks the CRC32C that GCS computed against the bytes it sent.
      validation: "crc32c",
    });
    await pipeline(toReadable(body), digest, upload);
    return { key, size: digest.size, sha256: digest.sha256() };
  }

  async get(key: string): Promise<Readable> {
    // The metadata first: a missing object must fail here, not later as a stream error; and reading exactly the
    // generation seen keeps a concurrent overwrite from mixing into the bytes.
    let generation: string | number | undefined;
    try {
      [{ generation }] = await this.bucket.file(this.keyOf(key)).getMetadata();
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key);
      throw err;
    }
    // Since 8.0.1 every createReadStream prints a harmless MaxListenersExceededWarning from teeny-request
    // (googleapis/google-cloud-node#9185, open); the bytes are checked against the manifest's sha256 regardless.
    return this.bucket
      .file(this.keyOf(key), generation === undefined ? {} : { generation: Number(generation) })
      .createReadStream();
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const [metadata] = await this.bucket.file(this.keyOf(key)).getMetadata();
      return info(key, metadata);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const [files] = await this.bucket.getFiles({ prefix: this.keyOf(prefix), autoPaginate: true });
    return files
      .map((file) => info(file.name.slice(this.prefix.length), file.metadata))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.bucket.file(this.keyOf(key)).delete({ ignoreNotFound: true });
  }

  /**
   * Nothing to release, unlike the S3 store: @google-cloud/storage keeps no client of its own, and the idle
   * connections of its requests (fetch) do not keep a process alive.
   */
  close(): void {}

  private keyOf(key: string): string {
    return `${this.prefix}${key}`;
  }
}

/**
 * Authenticates as the service account of a JSON key with self-signed JWTs, as Google's Go client does for Cloud
 * Storage: each request carries a token signed with the key itself, so there is no token exchange with
 * oauth2.googleapis.com (which a Job behind Private Service Connect may not reach). Errors never quote the key.
 */
function serviceAccountClient(credentialsJson: string): JWT {
  let key: { client_email?: unknown; private_key?: unknown; private_key_id?: unknown };
  try {
    key = JSON.parse(credentialsJson) as typeof key;
  } catch {
    throw new Error("the GCS credentials are not JSON; expected a service account JSON key");
  }
  if (typeof key?.client_email !== "string" || typeof key.private_key !== "string")
    throw new Error(
      "the GCS credentials are not a service account JSON key: client_email or private_key is missing",
    );
  const client = new JWT({
    email: key.client_email,
    key: key.private_key,
    ...(typeof key.private_key_id === "string" ? { keyId: key.private_key_id } : {}),
    scopes: [SCOPE],
  });
  client.useJWTAccessWithScope = true;
  return client;
}

function info(key: string, metadata: { size?: string | number; updated?: string }): ObjectInfo {
  return {
    key,
    size: Number(metadata.size ?? 0),
    ...(metadata.updated ? { lastModified: new Date(metadata.updated) } : {}),
  };
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 404;
}
