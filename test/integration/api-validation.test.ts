// The bad-resource corpus (test/fixtures/bad-resources) against a real kube-apiserver with our CRDs installed:
// each file must be refused where its header says, naming the field the header names. And the rules only the
// API server can check, those comparing with the previous object (immutability, volumes only grow).
//
//   rejected  refused on create by the schema or a CEL rule, even with fieldValidation=Ignore (the most lenient
//             client); submitted as a dry run, so a wrongly accepted object is never stored.
//   strict    refused with fieldValidation=Strict (kubectl's default); with Warn it is stored without the unknown
//             field and the API server warns about it.
//   operator  stored by the API server; parseResource refuses the object read back, as the operator would see it.

import { readdirSync, readFileSync } from "node:fs";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderCrds } from "../../src/api/crds.ts";
import { parseResource } from "../../src/api/validate.ts";
import { ApiError, KubeClient, type KubeObject } from "../../src/runtime/kube.ts";
import { sharedKubeConfig, testNamespace } from "../support/cluster.ts";
import { eventually } from "../support/eventually.ts";

const DIR = join(import.meta.dirname, "../fixtures/bad-resources");

interface Fixture {
  file: string;
  expect: string;
  why: string;
  apiserver: "rejected" | "strict" | "operator";
  body: KubeObject;
}

function header(text: string, key: string): string {
  const value = new RegExp(`^# ${key}: (.*)$`, "m").exec(text)?.[1]?.trim();
  if (!value) throw new Error(`no "# ${key}:" header`);
  return value;
}

const fixtures: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(join(DIR, file), "utf8");
    return {
      file,
      expect: header(text, "expect"),
      why: header(text, "why"),
      apiserver: header(text, "apiserver") as Fixture["apiserver"],
      body: parse(text) as KubeObject,
    };
  });

let kc: KubeConfig;
let client: KubeClient;
let ns: string;

beforeAll(async () => {
  kc = sharedKubeConfig();
  client = new KubeClient(kc, { fieldManager: "api-validation-test" });
  for (const crd of renderCrds()) await client.apply({ ...crd });
  const crds = await client.resourceType("apiextensions.k8s.io/v1", "CustomResourceDefinition");
  await eventually(async () => {
    for (const crd of renderCrds()) {
      const live = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >(crds, undefined, crd.metadata.name);
      expect(live?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")).toBe(
        true,
      );
    }
  });
  ns = await testNamespace(kc, "badres");
  // Right after a CRD is established its storage may still be starting (429); wait until requests get through.
  for (const crd of renderCrds()) {
    await eventually(async () => {
      const res = await submit(collection(crd.spec.names.plural), {}, { dryRun: true });
      expect([404, 429, 503]).not.toContain(res.status);
    });
  }
});

describe("the bad-resource corpus against kube-apiserver", () => {
  it("has the three kinds of cases the README describes", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    expect(new Set(fixtures.map((f) => f.apiserver))).toEqual(new Set(["rejected", "strict", "operator"]));
  });

  it.each(fixtures)("$file: $apiserver at $expect ($why)", async (fixture) => {
    const { body } = fixture;
    const plural = await pluralFor(body);
    if (plural === undefined) {
      // A kind or version we do not serve: no client gets as far as a request body. Discovery says so, naming
      // the field, and the URL a client could guess does not exist.
      expect(fixture.apiserver).toBe("rejected");
      const err = await client
        .resourceType(String(body.apiVersion), String(body.kind))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      const guessed = `/apis/${body.apiVersion}/namespaces/${ns}/${String(body.kind).toLowerCase()}s`;
      expect((await submit(guessed, body, { dryRun: true })).status).toBe(404);
      return;
    }
    const path = collection(plural);
    if (fixture.apiserver === "rejected") {
      const res = await submit(path, body, { fieldValidation: "Ignore", dryRun: true });
      expect(res.status, res.message).toBe(422);
      expect(namesPath(res.message, fixture.expect), res.message).toBe(true);
    } else if (fixture.apiserver === "strict") {
      const strict = await submit(path, body, { fieldValidation: "Strict", dryRun: true });
      expect(strict.status, strict.message).toBe(400);
      expect(strict.message).toContain(`unknown field "${fixture.expect}"`);
      const warned = await submit(path, body, { fieldValidation: "Warn", dryRun: true });
      expect(warned.status, warned.message).toBe(201);
      expect(warned.warnings.join("\n")).toContain(`unknown field "${fixture.expect}"`);
      // What would be stored has no trace of the unknown field.
      expect(parseResource(warned.body).ok, JSON.stringify(warned.body)).toBe(true);
    } else {
      // Each in a namespace of its own: several fixtures share a name.
      const own = await testNamespace(kc, "badres-op");
      const created = await submit(collection(plural, own), body, { fieldValidation: "Strict" });
      expect(created.status, created.message).toBe(201);
      const type = await client.resourceType(String(body.apiVersion), String(body.kind));
      const stored = await client.get(type, own, String(body.metadata?.name));
      const parsed = parseResource(stored);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.issues.map((i) => i.path)).toContain(fixture.expect);
    }
  });
});

// Changes to a valid object that only the API server can refuse: its CEL rules compare with the old object.
interface Transition {
  name: string;
  from: KubeObject;
  /** Dotted paths under spec to set, and to remove. */
  set?: Record<string, unknown>;
  remove?: string[];
  /** The field the refusal names and a word of its message; undefined when the change is allowed. */
  refused?: { path: string; message: RegExp };
}

const crdb = (name: string): KubeObject => ({
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "CockroachCluster",
  metadata: { name },
  spec: { version: "v25.2.4", nodes: 3, storage: { size: "20Gi", storageClassName: "fast" } },
});
const backup = (name: string): KubeObject => ({
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "Backup",
  metadata: { name },
  spec: { source: { cockroachClusterRef: { name: "db" } }, destination: { s3: { bucket: "backups" } } },
});
const restore = (name: string): KubeObject => ({
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "Restore",
  metadata: { name },
  spec: { backupRef: { name: "b" } },
});
const zitadel = (name: string): KubeObject => ({
  apiVersion: "zitadel-operator.dev/v1alpha1",
  kind: "Zitadel",
  metadata: { name },
  spec: {
    version: "v2.71.6",
    externalDomain: "auth.example.com",
    database: { cockroach: { clusterRef: { name: "db" } } },
    masterkeySecretRef: { name: "masterkey" },
  },
});

const transitions: Transition[] = [
  {
    name: "a CockroachCluster's volumes cannot shrink",
    from: crdb("shrink"),
    set: { "storage.size": "10Gi" },
    refused: { path: "spec.storage.size", message: /cannot shrink/ },
  },
  { name: "a CockroachCluster's volumes can grow", from: crdb("grow"), set: { "storage.size": "30Gi" } },
  {
    name: "a CockroachCluster's storage class cannot change",
    from: crdb("move"),
    set: { "storage.storageClassName": "slow" },
    refused: { path: "spec.storage.storageClassName", message: /immutable/ },
  },
  {
    name: "a CockroachCluster's storage class cannot be dropped",
    from: crdb("drop"),
    remove: ["storage.storageClassName"],
    refused: { path: "spec.storage.storageClassName", message: /immutable/ },
  },
  { name: "a CockroachCluster can scale", from: crdb("scale"), set: { nodes: 5 } },
  {
    name: "a Backup's source cannot change",
    from: backup("source"),
    set: { "source.cockroachClusterRef.name": "other" },
    refused: { path: "spec", message: /only deletionPolicy can change/ },
  },
  { name: "a Backup's deletionPolicy can change", from: backup("policy"), set: { deletionPolicy: "Delete" } },
  {
    name: "a Restore cannot change at all",
    from: restore("restore"),
    set: { overwrite: true },
    refused: { path: "spec", message: /one-time operation/ },
  },
  {
    name: "a Zitadel cannot move between CockroachDB and PostgreSQL",
    from: zitadel("switch"),
    remove: ["database.cockroach"],
    set: { "database.postgres": { host: "pg", adminSecretRef: { name: "pg-admin" } } },
    refused: { path: "spec.database", message: /data migration/ },
  },
  {
    name: "a Zitadel's masterkey Secret cannot change",
    from: zitadel("masterkey"),
    set: { "masterkeySecretRef.name": "masterkey-2" },
    refused: { path: "spec.masterkeySecretRef", message: /immutable/ },
  },
  {
    name: "a Zitadel's CockroachDB database cannot change",
    from: zitadel("database"),
    set: { "database.cockroach.database": "other" },
    refused: { path: "spec.database.cockroach.database", message: /immutable/ },
  },
  { name: "a Zitadel can scale", from: zitadel("scale"), set: { replicas: 5 } },
];

/** A copy of `spec` with the transition's changes; paths are dotted, every parent exists. */
function changed(spec: unknown, t: Transition): Record<string, unknown> {
  const copy = structuredClone(spec) as Record<string, unknown>;
  const parentOf = (path: string): [Record<string, unknown>, string] => {
    const keys = path.split(".");
    const last = keys.pop() ?? "";
    let node = copy;
    for (const key of keys) node = node[key] as Record<string, unknown>;
    return [node, last];
  };
  for (const path of t.remove ?? []) {
    const [parent, key] = parentOf(path);
    delete parent[key];
  }
  for (const [path, value] of Object.entries(t.set ?? {})) {
    const [parent, key] = parentOf(path);
    parent[key] = value;
  }
  return copy;
}

describe("changes to stored resources, which only the API server can judge", () => {
  it.each(transitions)("$name", async (transition) => {
    const { from, refused } = transition;
    const obj = { ...from, metadata: { ...from.metadata, namespace: ns } };
    await client.apply(obj);
    // Server-side apply, as `kubectl apply --server-side` or a GitSource would send the edited file: a field
    // left out is removed, since this field manager set it.
    const spec = changed(from.spec, transition);
    const result = await client.apply({ ...obj, spec }).catch((e: unknown) => e);
    if (!refused) {
      expect(result).not.toBeInstanceOf(Error);
      expect((result as KubeObject).spec).toMatchObject(spec);
      return;
    }
    expect(result).toBeInstanceOf(ApiError);
    const err = result as ApiError;
    expect(err.status).toBe(422);
    expect(err.message).toMatch(refused.message);
    expect(namesPath(err.message, refused.path), err.message).toBe(true);
  });
});

/**
 * Whether the API server's message names the field: the path itself, or (as the README allows) a parent of it
 * that is more than the bare `spec`, such as `spec.regions[1]` for `spec.regions[1].name`. Rules on the object
 * root are reported at `<nil>`; their messages name the field in words, as `metadata.name must match ...`.
 */
function namesPath(message: string, expected: string): boolean {
  const candidates = [expected];
  for (let p = expected; /[.[]/.test(p); ) {
    p = p.replace(/(\.[^.[]+|\[[^\]]*\])$/, "");
    if (/[.[]/.test(p)) candidates.push(p);
  }
  return candidates.some((p) => new RegExp(`${p.replace(/[.[\]]/g, "\\$&")}(?=[:" ,\\]]|$)`).test(message));
}

function collection(plural: string, namespace = ns): string {
  return `/apis/zitadel-operator.dev/v1alpha1/namespaces/${namespace}/${plural}`;
}

/** The plural of a fixture's kind, if the API server serves its apiVersion and kind. */
async function pluralFor(body: KubeObject): Promise<string | undefined> {
  try {
    return (await client.resourceType(String(body.apiVersion), String(body.kind))).plural;
  } catch {
    return undefined;
  }
}

interface Answer {
  status: number;
  message: string;
  warnings: string[];
  body: unknown;
}

/**
 * POSTs `body` to `path` and returns the answer as it is, errors included. KubeClient has no fieldValidation
 * option and does not surface warnings: both are what this test is about.
 */
async function submit(
  path: string,
  body: unknown,
  opts: { fieldValidation?: "Strict" | "Warn" | "Ignore"; dryRun?: boolean },
): Promise<Answer> {
  const tls: RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const url = new URL(`${kc.getCurrentCluster()?.server}${path}`);
  if (opts.fieldValidation) url.searchParams.set("fieldValidation", opts.fieldValidation);
  if (opts.dryRun) url.searchParams.set("dryRun", "All");
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      ...tls,
      method: "POST",
      headers: { ...(tls.headers ?? {}), accept: "application/json", "content-type": "application/json" },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("error", reject);
      res.on("end", () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({
          status: res.statusCode ?? 0,
          message: String((parsed as { message?: unknown })?.message ?? text),
          // `Warning: 299 - "unknown field \"spec.replica\""`: the text is an HTTP quoted-string.
          warnings: (res.headersDistinct.warning ?? []).map((w) =>
            (/^\d{3} \S+ "(.*)"$/.exec(w)?.[1] ?? w).replace(/\\(.)/g, "$1"),
          ),
          body: parsed,
        });
      });
    });
    req.end(payload);
  });
}
