// An object store on a mounted directory, for destination.pvc: keys are relative paths under the root. A put
// writes a temporary file and renames it, so a crashed backup never leaves a half-written object under its name.
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import {
  DigestingStream,
  type ObjectBody,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
  type PutResult,
  toReadable,
} from "./store.ts";

const PARTIAL = ".partial-";

export class FilesystemStore implements ObjectStore {
  readonly description: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = pathToFileURL(this.root).href;
  }

  async put(key: string, body: ObjectBody): Promise<PutResult> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}${PARTIAL}${randomBytes(4).toString("hex")}`;
    const digest = new DigestingStream();
    try {
      await pipeline(toReadable(body), digest, createWriteStream(partial, { mode: 0o600 }));
      await rename(partial, path);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    return { key, size: digest.size, sha256: digest.sha256() };
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    if ((await this.head(key)) === undefined) throw new ObjectNotFoundError(key);
    return createReadStream(path);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, size: info.size, lastModified: info.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const entries = await readdir(this.root, { recursive: true, withFileTypes: true }).catch((err) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    });
    const objects: ObjectInfo[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.includes(PARTIAL)) continue;
      const key = relative(this.root, join(entry.parentPath, entry.name)).split(sep).join("/");
      if (!key.startsWith(prefix)) continue;
      const info = await this.head(key);
      if (info) objects.push(info);
    }
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, key);
    if (key === "" || key.startsWith("/") || !path.startsWith(`${this.root}${sep}`))
      throw new Error(`"${key}" is not a key inside the store`);
    return path;
  }
}
