// From the files of a revision to the objects a GitSource applies, or to every problem that stops it.
//
// Every *.yaml, *.yml and *.json under the source's path is read in name order, every document parsed; SOPS
// files are decrypted (MAC checked) with the identities of spec.decryption; our kinds are validated with the
// same schemas as the API server's, and among plain Kubernetes kinds only Namespace, Secret and ConfigMap are
// accepted. A revision with any problem yields no objects at all, so a half-valid revision is never applied and
// never drives a prune. Problems name the file, the document (counted from 1), the field and what is wrong.

import { createHash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { GROUP } from "../api/group.ts";
import { formatPath, parseResource } from "../api/validate.ts";
import type { KubeObject } from "../runtime/kube.ts";
import { applyStage, groupOf, type InventoryEntry, inventoryEntry } from "./inventory.ts";
import { decryptSopsFile, isSopsDocument, SopsError } from "./sops.ts";

export const GITSOURCE_LABEL = `${GROUP}/gitsource`;
export const GITSOURCE_ANNOTATION = `${GROUP}/gitsource`;
export const REVISION_ANNOTATION = `${GROUP}/revision`;
export const AUTHOR_ANNOTATION = `${GROUP}/author`;

export interface ManifestFile {
  /** Path relative to the repository root, with "/" separators: what problems and annotations show. */
  path: string;
  text: string;
}

export interface ManifestProblem {
  file: string;
  /** Document within the file, counted from 1; 0 for the file as a whole. */
  index: number;
  /** Dotted field path, "" for the document itself. */
  path: string;
  message: string;
}

export interface ManifestObject {
  file: string;
  index: number;
  /** The document as written (after decryption), with the default namespace filled in. */
  object: KubeObject;
  entry: InventoryEntry;
  stage: number;
  /** It came from a SOPS file: never print its values. */
  encrypted: boolean;
}

export type BuildResult =
  | { ok: true; objects: ManifestObject[] }
  | { ok: false; problems: ManifestProblem[] };

export interface BuildOptions {
  /** age identities from spec.decryption; undefined when decryption is not configured. */
  identities?: readonly string[] | undefined;
  /** Namespace for namespaced objects that name none. */
  defaultNamespace: string;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/;

/**
 * Reads the manifest files under `path` of a checked-out tree, recursively, in name order. Hidden entries
 * (.git, .sops.yaml's directory and the like) are skipped; symbolic links are refused, as they could point
 * outside the repository.
 */
export async function readManifestFiles(
  rootDir: string,
  path: string,
): Promise<{ files: ManifestFile[]; problems: ManifestProblem[] }> {
  const files: ManifestFile[] = [];
  const problems: ManifestProblem[] = [];
  const start = join(rootDir, path);
  if (relative(rootDir, start).startsWith("..")) {
    return {
      files,
      problems: [{ file: path, index: 0, path: "", message: "the path leaves the repository" }],
    };
  }
  const visit = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const full = join(dir, name);
      const rel = relative(rootDir, full).split(sep).join("/");
      const info = await lstat(full);
      if (info.isSymbolicLink()) {
        problems.push({ file: rel, index: 0, path: "", message: "symbolic links are not followed" });
      } else if (info.isDirectory()) {
        await visit(full);
      } else if (info.isFile() && MANIFEST_FILE.test(name)) {
        files.push({ path: rel, text: await readFile(full, "utf8") });
      }
    }
  };
  const info = await lstat(start).catch(() => undefined);
  if (info === undefined || !info.isDirectory()) {
    problems.push({ file: path, index: 0, path: "", message: "no such directory in the revision" });
  } else {
    await visit(start);
  }
  return { files, problems };
}

/** Parses, decrypts and validates every document; objects come back in apply order. */
export async function buildManifests(
  files: readonly ManifestFile[],
  options: BuildOptions,
): Promise<BuildResult> {
  const problems: ManifestProblem[] = [];
  const objects: ManifestObject[] = [];
  for (const file of files) {
    const documents = await readDocuments(file, options, problems);
    for (const { index, value, encrypted } of documents) {
      const object = checkDocument(file.path, index, value, encrypted, problems);
      if (object === undefined) continue;
      if (isNamespaced(object) && object.metadata?.namespace === undefined) {
        object.metadata = { ...object.metadata, namespace: options.defaultNamespace };
      }
      const ref = {
        apiVersion: object.apiVersion ?? "",
        kind: object.kind ?? "",
        name: object.metadata?.name ?? "",
        namespace: object.metadata?.namespace,
      };
      objects.push({
        file: file.path,
        index,
        object,
        entry: inventoryEntry(ref),
        stage: applyStage(groupOf(ref.apiVersion), ref.kind),
        encrypted,
      });
    }
  }
  const seen = new Map<string, ManifestObject>();
  for (const o of objects) {
    const first = seen.get(o.entry.id);
    if (first) {
      problems.push({
        file: o.file,
        index: o.index,
        path: "metadata.name",
        message: `${o.object.kind} ${o.object.metadata?.name} is also defined in ${first.file} document ${first.index}`,
      });
    } else {
      seen.set(o.entry.id, o);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  // Stable: within a stage, the order of the files and documents.
  return {
    ok: true,
    objects: objects
      .map((o, i) => ({ o, i }))
      .sort((a, b) => a.o.stage - b.o.stage || a.i - b.i)
      .map((x) => x.o),
  };
}

async function readDocuments(
  file: ManifestFile,
  options: BuildOptions,
  problems: ManifestProblem[],
): Promise<{ index: number; value: unknown; encrypted: boolean }[]> {
  const parsed = parseAllDocuments(file.text, { uniqueKeys: true });
  const documents = Array.isArray(parsed) ? parsed : [];
  const values: { index: number; value: unknown }[] = [];
  let broken = false;
  documents.forEach((doc, i) => {
    for (const error of doc.errors) {
      problems.push({
        file: file.path,
        index: i + 1,
        path: "",
        message: `invalid YAML: ${error.message.split("\n")[0]}`,
      });
      broken = true;
    }
    if (doc.errors.length === 0) values.push({ index: i + 1, value: doc.toJS() as unknown });
  });
  if (broken) return [];
  const present = values.filter((v) => v.value !== null && v.value !== undefined);
  if (!present.some((v) => isSopsDocument(v.value))) return present.map((v) => ({ ...v, encrypted: false }));

  if (options.identities === undefined) {
    problems.push({
      file: file.path,
      index: 0,
      path: "sops",
      message: "the file is SOPS-encrypted, but no decryption key is configured (spec.decryption)",
    });
    return [];
  }
  try {
    const plain = await decryptSopsFile(file.text, { identities: options.identities, file: file.path });
    // decryptSopsFile drops empty documents as we do, so positions line up with `present`.
    return plain.map((value, i) => ({ index: present[i]?.index ?? i + 1, value, encrypted: true }));
  } catch (err) {
    const message = err instanceof SopsError ? err.message.replace(`${file.path}: `, "") : "cannot decrypt";
    problems.push({ file: file.path, index: 0, path: "sops", message });
    return [];
  }
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const plainMetadata = (namespaced: boolean) =>
  z.strictObject({
    name: z.string().max(253).regex(NAME, "must be a DNS-1123 subdomain"),
    ...(namespaced
      ? { namespace: z.string().max(63).regex(LABEL, "must be a DNS-1123 label").optional() }
      : {}),
    labels: z.record(z.string(), z.string().max(63)).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  });

const base64Map = z.record(z.string(), z.string().regex(BASE64, "must be base64"));

// The plain Kubernetes kinds a repository may hold, with only the fields that matter for configuration.
const PLAIN_KINDS: Record<string, z.ZodType> = {
  "v1/Namespace": z.strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("Namespace"),
    metadata: plainMetadata(false),
  }),
  "v1/Secret": z.strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("Secret"),
    metadata: plainMetadata(true),
    type: z.string().max(253).optional(),
    immutable: z.boolean().optional(),
    data: base64Map.optional(),
    stringData: z.record(z.string(), z.string()).optional(),
  }),
  "v1/ConfigMap": z.strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("ConfigMap"),
    metadata: plainMetadata(true),
    immutable: z.boolean().optional(),
    data: z.record(z.string(), z.string()).optional(),
    binaryData: base64Map.optional(),
  }),
};

function checkDocument(
  file: string,
  index: number,
  value: unknown,
  encrypted: boolean,
  problems: ManifestProblem[],
): KubeObject | undefined {
  const report = (path: string, message: string) => problems.push({ file, index, path, message });
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    report("", "expected a Kubernetes object (a mapping with apiVersion and kind)");
    return undefined;
  }
  const object = value as KubeObject;
  if (typeof object.apiVersion === "string" && groupOf(object.apiVersion) === GROUP) {
    const parsed = parseResource(object);
    if (!parsed.ok) {
      for (const issue of parsed.issues) report(issue.path, issue.message);
      return undefined;
    }
    return object;
  }
  const schema = PLAIN_KINDS[`${String(object.apiVersion)}/${String(object.kind)}`];
  if (schema === undefined) {
    report(
      "kind",
      `${String(object.apiVersion)} ${String(object.kind)} is not allowed: a GitSource applies ${GROUP} kinds, ` +
        "Namespaces, Secrets and ConfigMaps",
    );
    return undefined;
  }
  const result = schema.safeParse(object);
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) report(formatPath([...issue.path, key]), "unknown field");
      } else {
        report(formatPath(issue.path), issue.message);
      }
    }
    return undefined;
  }
  if (object.kind === "Secret" && !encrypted) {
    for (const field of ["data", "stringData"]) {
      const values = object[field];
      if (typeof values === "object" && values !== null && Object.keys(values).length > 0) {
        report(
          field,
          "a Secret's values must be SOPS-encrypted in Git (see `zitadel-operator secret encrypt`)",
        );
        return undefined;
      }
    }
  }
  return object;
}

function isNamespaced(object: KubeObject): boolean {
  return !(object.apiVersion === "v1" && object.kind === "Namespace");
}

export interface SourceRevision {
  /** The GitSource applying the objects. */
  source: { namespace: string; name: string };
  revision: string;
  author?: string;
}

/**
 * The label value naming a GitSource, `<namespace>.<name>`; when that exceeds a label's 63 characters it is
 * shortened with a hash, and the full name is in the annotation of the same key.
 */
export function sourceLabelValue(source: { namespace: string; name: string }): string {
  const full = `${source.namespace}.${source.name}`;
  if (full.length <= 63) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 10);
  return `${full.slice(0, 52).replace(/[-.]+$/, "")}-${hash}`;
}

/** A copy of `object` carrying who applied it and from which commit. */
export function markAsApplied(object: KubeObject, from: SourceRevision): KubeObject {
  const copy = structuredClone(object);
  const metadata = { ...copy.metadata };
  metadata.labels = { ...metadata.labels, [GITSOURCE_LABEL]: sourceLabelValue(from.source) };
  const annotations: Record<string, string> = {
    ...metadata.annotations,
    [GITSOURCE_ANNOTATION]: `${from.source.namespace}/${from.source.name}`,
    [REVISION_ANNOTATION]: from.revision,
  };
  if (from.author !== undefined && from.author !== "") annotations[AUTHOR_ANNOTATION] = from.author;
  metadata.annotations = annotations;
  copy.metadata = metadata;
  return copy;
}

/** "path/file.yaml document 2: spec.nodes: must be at least 1", for logs, CLI output and condition messages. */
export function describeProblem(problem: ManifestProblem): string {
  const where = problem.index > 0 ? `${problem.file} document ${problem.index}` : problem.file;
  return problem.path === ""
    ? `${where}: ${problem.message}`
    : `${where}: ${problem.path}: ${problem.message}`;
}

/** readManifestFiles then buildManifests: the objects of `path` in a checked-out revision, or every problem. */
export async function loadManifests(
  rootDir: string,
  path: string,
  options: BuildOptions,
): Promise<BuildResult> {
  const { files, problems } = await readManifestFiles(rootDir, path);
  const built = await buildManifests(files, options);
  if (problems.length === 0) return built;
  return { ok: false, problems: [...problems, ...(built.ok ? [] : built.problems)] };
}
