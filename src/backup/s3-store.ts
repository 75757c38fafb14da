// An object store on Amazon S3 or an S3-compatible service (MinIO, Ceph, gofakes3 in tests), through the AWS SDK.
// A put streams: it uploads parts of PART_SIZE bytes as they fill, so memory stays at one part whatever the
// size of the dump, and aborts the multipart upload if the source fails, so no partial object is left behind.

import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import {
  type ObjectBody,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
  type PutResult,
  toReadable,
} from "./store.ts";

/** S3's minimum part size is 5 MiB; 8 MiB keeps a 10,000-part upload good for 80 GiB. */
export const PART_SIZE = 8 * 1024 * 1024;

export interface S3StoreSettings {
  readonly bucket: string;
  /** Key prefix for every object of this store; keys passed to the methods are relative to it. */
  readonly prefix?: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  /** Static credentials from a Secret; the SDK's default chain (IRSA, instance profile) when unset. */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  readonly partSize?: number;
}

export class S3Store implements ObjectStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(settings: S3StoreSettings) {
    this.bucket = settings.bucket;
    this.prefix = normalizePrefix(settings.prefix);
    this.partSize = settings.partSize ?? PART_SIZE;
    this.description = `s3://${settings.bucket}/${this.prefix}`;
    this.client = new S3Client({
      region: settings.region ?? "us-east-1",
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      forcePathStyle: settings.forcePathStyle ?? false,
      ...(settings.credentials === undefined ? {} : { credentials: { ...settings.credentials } }),
      // We hash every object ourselves (sha256 in the manifest). The SDK's default CRC trailers (aws-chunked
      // encoding) are not understood by every S3-compatible server, so send checksums only where S3 needs them.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  async put(key: string, body: ObjectBody): Promise<PutResult> {
    const Key = this.keyOf(key);
    const hash = createHash("sha256");
    let size = 0;
    let uploadId: string | undefined;
    const parts: { ETag: string; PartNumber: number }[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;

    const uploadPart = async (data: Buffer) => {
      if (uploadId === undefined) {
        const created = await this.client.send(
          new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }),
        );
        uploadId = created.UploadId;
        if (uploadId === undefined) throw new Error(`S3 returned no upload id for ${key}`);
      }
      const PartNumber = parts.length + 1;
      const uploaded = await this.client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          PartNumber,
          Body: data,
          ContentLength: data.length,
        }),
      );
      parts.push({ ETag: uploaded.ETag ?? "", PartNumber });
    };

    try {
      for await (const chunk of toReadable(body)) {
        const bytes = Buffer.from(chunk as Uint8Array);
        hash.update(bytes);
        size += bytes.length;
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes >= this.partSize) {
          const all = Buffer.concat(pending);
          pending = [all.subarray(this.partSize)];
          pendingBytes = pending[0]?.length ?? 0;
          await uploadPart(all.subarray(0, this.partSize));
        }
      }
      const rest = Buffer.concat(pending);
      if (uploadId === undefined) {
        // Small enough for one request.
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key, Body: rest, ContentLength: rest.length }),
        );
      } else {
        if (rest.length > 0) await uploadPart(rest);
        await this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
          }),
        );
      }
    } catch (err) {
      if (uploadId !== undefined)
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }))
          .catch(() => {}); // the original error is the one worth reporting
      throw err;
    }
    return { key, size, sha256: hash.digest("hex") };
  }

  async get(key: string): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      if (!(response.Body instanceof Readable)) throw new Error(`S3 returned no body for ${key}`);
      return response.Body;
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key);
      throw err;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      return {
        key,
        size: response.ContentLength ?? 0,
        ...(response.LastModified ? { lastModified: response.LastModified } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keyOf(prefix), ContinuationToken }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        objects.push({
          key: object.Key.slice(this.prefix.length),
          size: object.Size ?? 0,
          ...(object.LastModified ? { lastModified: object.LastModified } : {}),
        });
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
  }

  /** Closes the SDK's connections, so a short-lived Job exits promptly. */
  close(): void {
    this.client.destroy();
  }

  private keyOf(key: string): string {
    return `${this.prefix}${key}`;
  }
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}
