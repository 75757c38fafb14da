// GcsStore against a real GCS-compatible server on loopback (fake-gcs-server, test/support/gcs.ts) that accepts
// only requests signed by the test's service account key: the ObjectStore contract the backup engines rely on.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GcsStore } from "../../src/backup/gcs-store.ts";
import {
  deletePrefix,
  IntegrityError,
  ObjectNotFoundError,
  readAll,
  readVerified,
} from "../../src/backup/store.ts";
import { type GcsServer, serviceAccountKey, startGcsServer } from "../support/gcs.ts";

let gcs: GcsServer;
let store: GcsStore;

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

beforeAll(async () => {
  gcs = await startGcsServer();
  // Small chunks, so that a few MiB take several chunk requests.
  store = new GcsStore({
    bucket: gcs.bucket,
    prefix: "/team/prod/",
    endpoint: gcs.endpoint,
    credentialsJson: gcs.credentialsJson,
    chunkSize: 1024 * 1024,
  });
});

afterAll(async () => {
  await gcs?.stop();
});

describe("GcsStore", () => {
  it("describes itself as a gs:// URL with the normalised prefix and no credentials", () => {
    expect(store.description).toBe(`gs://${gcs.bucket}/team/prod/`);
    expect(new GcsStore({ bucket: "b" }).description).toBe("gs://b/");
    const key = JSON.parse(gcs.credentialsJson) as { private_key: string; client_email: string };
    expect(store.description).not.toContain(key.client_email);
  });

  it("puts an object and returns its size and sha256, computed while streaming", async () => {
    const put = await store.put("a/one", "hello, gcs");
    expect(put).toEqual({ key: "a/one", size: 10, sha256: sha256("hello, gcs") });
    expect((await readAll(await store.get("a/one"))).toString()).toBe("hello, gcs");
    const head = await store.head("a/one");
    expect(head).toMatchObject({ key: "a/one", size: 10 });
    expect(head?.lastModified).toBeInstanceOf(Date);
  });

  it("stores an empty object", async () => {
    expect(await store.put("a/empty", Buffer.alloc(0))).toMatchObject({ size: 0, sha256: sha256("") });
    expect(await readAll(await store.get("a/empty"))).toHaveLength(0);
    expect(await store.head("a/empty")).toMatchObject({ size: 0 });
  });

  it("streams a big object of several MiB in chunks and reads back the same bytes", async () => {
    const data = randomBytes(5 * 1024 * 1024 + 12_345);
    // Uneven pieces, as pg_dump's stdout delivers them.
    async function* pieces() {
      for (let at = 0; at < data.length; at += 200_000) yield data.subarray(at, at + 200_000);
    }
    const put = await store.put("big/dump", pieces());
    expect(put).toEqual({ key: "big/dump", size: data.length, sha256: sha256(data) });
    expect(await store.head("big/dump")).toMatchObject({ size: data.length });
    const read = await readAll(await readVerified(store, "big/dump", put));
    expect(read.equals(data)).toBe(true);
  });

  it("leaves no object when the source fails midway, even after chunks were sent", async () => {
    async function* failing() {
      yield randomBytes(2 * 1024 * 1024 + 1); // more than one chunk: the session has received data
      throw new Error("pg_dump died");
    }
    await expect(store.put("broken/dump", failing())).rejects.toThrow("pg_dump died");
    expect(await store.head("broken/dump")).toBeUndefined();
    expect(await store.list("broken/")).toEqual([]);
  });

  it("replaces an object whole on a second put", async () => {
    await store.put("a/replaced", "first version, longer");
    const second = await store.put("a/replaced", Readable.from([Buffer.from("second")]));
    expect((await readAll(await store.get("a/replaced"))).toString()).toBe("second");
    expect(await store.head("a/replaced")).toMatchObject({ size: second.size });
  });

  it("reports a missing object: get throws ObjectNotFoundError, head is undefined", async () => {
    await expect(store.get("a/missing")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.get("a/missing")).rejects.toMatchObject({ key: "a/missing" });
    expect(await store.head("a/missing")).toBeUndefined();
  });

  it("lists by prefix, sorted by key, relative to the store's prefix", async () => {
    for (const key of ["list/c", "list/a", "list/b/x", "listing/other"]) await store.put(key, key);
    const listed = await store.list("list/");
    expect(listed.map((o) => o.key)).toEqual(["list/a", "list/b/x", "list/c"]);
    expect(listed.map((o) => o.size)).toEqual([6, 8, 6]);
    expect((await store.list("")).map((o) => o.key)).toContain("listing/other");
    expect(await store.list("nothing-here/")).toEqual([]);
  });

  it("keeps stores with different prefixes apart in one bucket", async () => {
    const other = new GcsStore({
      bucket: gcs.bucket,
      prefix: "team/staging",
      endpoint: gcs.endpoint,
      credentialsJson: gcs.credentialsJson,
    });
    await other.put("a/one", "staging");
    expect((await readAll(await other.get("a/one"))).toString()).toBe("staging");
    expect((await readAll(await store.get("a/one"))).toString()).toBe("hello, gcs");
    expect((await other.list("")).map((o) => o.key)).toEqual(["a/one"]);
    const root = new GcsStore({
      bucket: gcs.bucket,
      endpoint: gcs.endpoint,
      credentialsJson: gcs.credentialsJson,
    });
    expect((await root.list("team/")).map((o) => o.key)).toContain("team/staging/a/one");
  });

  it("deletes objects; deleting a missing one is fine; deletePrefix removes one directory", async () => {
    await store.delete("a/empty");
    expect(await store.head("a/empty")).toBeUndefined();
    await expect(store.delete("a/never-existed")).resolves.toBeUndefined();
    expect(await deletePrefix(store, "list/")).toBe(3);
    expect(await store.list("list/")).toEqual([]);
    expect(await store.head("listing/other")).toBeDefined();
  });

  it("fails a verified read of bytes that differ from the manifest", async () => {
    const put = await store.put("a/checked", "the real bytes");
    await expect(
      readAll(await readVerified(store, "a/checked", { ...put, sha256: sha256("other bytes") })),
    ).rejects.toBeInstanceOf(IntegrityError);
  });

  it("signs every request with the given key: the server refuses another service account", async () => {
    const stranger = new GcsStore({
      bucket: gcs.bucket,
      prefix: "team/prod",
      endpoint: gcs.endpoint,
      credentialsJson: serviceAccountKey().json,
    });
    await expect(stranger.list("")).rejects.toThrow(/not signed by the service account's key/);
    await expect(stranger.put("intruder", "x")).rejects.toThrow();
    expect(await store.head("intruder")).toBeUndefined();
  });

  it("refuses credentials that are not a service account key, without quoting them", () => {
    const notJson = `not json ${randomBytes(8).toString("hex")}`;
    let message = "";
    try {
      new GcsStore({ bucket: "b", credentialsJson: notJson });
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/not JSON/);
    expect(message).not.toContain(notJson);
    expect(() => new GcsStore({ bucket: "b", credentialsJson: '{"type":"service_account"}' })).toThrow(
      /client_email or private_key is missing/,
    );
  });
});
