import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FilesystemStore } from "../../../src/backup/fs-store.ts";
import { deletePrefix, IntegrityError, readAll, readVerified } from "../../../src/backup/store.ts";

let root: string;
let store: FilesystemStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "fs-store-"));
  store = new FilesystemStore(root);
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe("FilesystemStore", () => {
  it("streams a put and reports its size and sha256", async () => {
    const put = await store.put(
      "ns/src/b1/dump",
      Readable.from([Buffer.from("hello "), Buffer.from("world")]),
    );
    expect(put).toEqual({
      key: "ns/src/b1/dump",
      size: 11,
      sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
    });
    expect((await readAll(await store.get("ns/src/b1/dump"))).toString()).toBe("hello world");
    expect(await store.head("ns/src/b1/dump")).toMatchObject({ size: 11 });
    expect(await store.head("ns/src/b1/none")).toBeUndefined();
  });

  it("lists by prefix, deletes a backup directory, and ignores half-written files", async () => {
    await store.put("ns/src/b1/dump", "1");
    await store.put("ns/src/b1/manifest.json", "{}");
    await store.put("ns/src/b2/dump", "2");
    await writeFile(join(root, "ns/src/b2/dump.partial-abcd"), "x");
    expect((await store.list("ns/src/")).map((o) => o.key)).toEqual([
      "ns/src/b1/dump",
      "ns/src/b1/manifest.json",
      "ns/src/b2/dump",
    ]);
    expect(await deletePrefix(store, "ns/src/b1/")).toBe(2);
    expect((await store.list("ns/")).map((o) => o.key)).toEqual(["ns/src/b2/dump"]);
    await expect(deletePrefix(store, "ns/src/b")).rejects.toThrow(/ends in '\/'/);
  });

  it("refuses keys outside its root", async () => {
    await expect(store.put("../escape", "x")).rejects.toThrow(/not a key inside the store/);
    expect(await readdir(join(root, ".."))).not.toContain("escape");
  });

  it("fails a verified read of a changed object at its end", async () => {
    const put = await store.put("b/dump", "original");
    await writeFile(join(root, "b/dump"), "tampered");
    await expect(readAll(await readVerified(store, "b/dump", put))).rejects.toBeInstanceOf(IntegrityError);
    await store.put("b/dump", "original");
    expect((await readAll(await readVerified(store, "b/dump", put))).toString()).toBe("original");
  });
});
