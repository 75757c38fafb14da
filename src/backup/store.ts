// Where backups live: a small object store interface, so the engines stream a dump without caring whether it goes
// to S3 (s3-store.ts) or to a mounted volume (fs-store.ts). Every put reports the size and sha256 of what it
// wrote, computed while streaming; every read of a backup object is checked against them (readVerified).
import { createHash } from "node:crypto";
import { Readable, Transform, type TransformCallback } from "node:stream";

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
}

export interface PutResult {
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
}

export type ObjectBody = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

export interface ObjectStore {
  /** Where the store is, without credentials (s3://bucket/prefix, file:///backups): safe for logs and status. */
  readonly description: string;
  /** Streams `body` to `key`; the object appears whole or not at all. */
  put(key: string, body: ObjectBody): Promise<PutResult>;
  /** The object's bytes as a stream; throws ObjectNotFoundError if there is none. */
  get(key: string): Promise<Readable>;
  /** Size and time of an object, or undefined if there is none. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deletes the object; deleting a missing one is not an error. */
  delete(key: string): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  override name = "ObjectNotFoundError";
  readonly key: string;
  constructor(key: string) {
    super(`object ${key} does not exist`);
    this.key = key;
  }
}

export class IntegrityError extends Error {
  override name = "IntegrityError";
}

/** Counts and hashes the bytes that flow through it. */
export class DigestingStream extends Transform {
  private readonly hash = createHash("sha256");
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }

  /** The hex sha256 of everything that passed; call once, after the stream ended. */
  sha256(): string {
    return this.hash.digest("hex");
  }
}

export function toReadable(body: ObjectBody): Readable {
  if (body instanceof Readable) return body;
  if (typeof body === "string" || body instanceof Uint8Array) return Readable.from([Buffer.from(body)]);
  return Readable.from(body);
}

/**
 * The object's bytes, failing with IntegrityError at the end of the stream (before it ends successfully) when
 * its size or sha256 is not what the manifest recorded. Consumers must treat the data as untrusted until the
 * stream has ended without error.
 */
export async function readVerified(
  store: ObjectStore,
  key: string,
  expected: { size: number; sha256: string },
): Promise<Readable> {
  const source = await store.get(key);
  const hash = createHash("sha256");
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      const sha256 = hash.digest("hex");
      if (size !== expected.size || sha256 !== expected.sha256)
        done(
          new IntegrityError(
            `${key} is corrupt: it has ${size} bytes with sha256 ${sha256}, the manifest recorded ` +
              `${expected.size} bytes with sha256 ${expected.sha256}`,
          ),
        );
      else done();
    },
  });
  source.on("error", (err) => check.destroy(err));
  return source.pipe(check);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Deletes every object under `prefix` (one backup's directory); returns how many. */
export async function deletePrefix(store: ObjectStore, prefix: string): Promise<number> {
  if (!prefix.endsWith("/"))
    throw new Error(`refusing to delete "${prefix}": a backup directory ends in '/'`);
  const objects = await store.list(prefix);
  for (const object of objects) await store.delete(object.key);
  return objects.length;
}
