// The operator's one door to the Kubernetes API: server-side apply (also on the status subresource), get, list,
// streaming watch, JSON patch and delete, over HTTPS with the credentials of a client-node KubeConfig.
//
// Why not client-node's generated clients and informer: they cannot apply to a status subresource, they pick
// JSON patch as the content type of every patch, and the informer stops silently after a failed list and never
// asks for bookmarks (see shared/research/gitops-and-frameworks.md, B3). A thin client of our own is less code
// than the workarounds, and it counts every request by verb and code for metrics and the steady-state test.

import type { IncomingMessage } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export const FIELD_MANAGER = "zitadel-operator";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A kind as the API serves it. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export interface ObjectList<T> {
  items: T[];
  resourceVersion: string;
  continue?: string;
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

/** An error answer of the API server, with its HTTP status and the server's reason and message. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, reason: string | undefined, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}

export function isGone(err: unknown): boolean {
  return err instanceof ApiError && err.status === 410;
}

/** Called once per request with its verb (get, list, watch, apply, create, patch, delete) and HTTP status. */
export type RequestHook = (verb: string, status: number | "error") => void;

export interface KubeClientOptions {
  fieldManager?: string;
  onRequest?: RequestHook;
  /** Per-request timeout for everything but watches. */
  timeoutMs?: number;
}

const WRITE_VERBS = new Set(["apply", "create", "update", "patch", "delete"]);

export class KubeClient {
  readonly fieldManager: string;
  readonly server: string;
  private readonly kc: KubeConfig;
  private readonly onRequest: RequestHook | undefined;
  private readonly timeoutMs: number;
  private readonly discovery = new Map<string, Promise<ResourceType[]>>();
  private tls: { options: RequestOptions; at: number } | undefined;
  private writeCount = 0;

  constructor(kc: KubeConfig, opts: KubeClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    this.kc = kc;
    this.server = cluster.server.replace(/\/$/, "");
    this.fieldManager = opts.fieldManager ?? FIELD_MANAGER;
    this.onRequest = opts.onRequest;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Every write this client has made (apply, create, update, patch, delete), successful or not. */
  get writes(): number {
    return this.writeCount;
  }

  /** The API server's version (GET /version), such as "v1.34.4". */
  async serverVersion(): Promise<string> {
    const version = (await this.call("get", "GET", "/version")) as { gitVersion?: string } | undefined;
    return version?.gitVersion ?? "unknown";
  }

  /** Looks a kind up in the API server's discovery documents (cached; refreshed once on a miss). */
  async resourceType(apiVersion: string, kind: string): Promise<ResourceType> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let found = this.discovery.get(apiVersion);
      if (!found || attempt === 1) {
        found = this.discover(apiVersion);
        this.discovery.set(apiVersion, found);
        found.catch(() => this.discovery.delete(apiVersion));
      }
      const type = (await found).find((t) => t.kind === kind);
      if (type) return type;
    }
    throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
  }

  private async discover(apiVersion: string): Promise<ResourceType[]> {
    const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = (await this.call("get", "GET", path)) as {
      resources?: { name: string; kind: string; namespaced: boolean }[];
    };
    return (list.resources ?? [])
      .filter((r) => !r.name.includes("/"))
      .map((r) => ({ apiVersion, kind: r.kind, plural: r.name, namespaced: r.namespaced }));
  }

  /** The URL path of a collection (name undefined) or an object, optionally of a subresource. */
  path(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
    const base = type.apiVersion.includes("/") ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
    const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    const obj = name ? `/${encodeURIComponent(name)}` : "";
    const sub = subresource ? `/${subresource}` : "";
    return `${base}${ns}/${type.plural}${obj}${sub}`;
  }

  async get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string) {
    try {
      return (await this.call("get", "GET", this.path(type, namespace, name))) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    opts: { namespace?: string; labelSelector?: string; limit?: number; continue?: string } = {},
  ): Promise<ObjectList<T>> {
    const query: Record<string, string> = {};
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    if (opts.limit) query.limit = String(opts.limit);
    if (opts.continue) query.continue = opts.continue;
    const list = (await this.call("list", "GET", this.path(type, opts.namespace), { query })) as {
      items?: T[];
      metadata?: { resourceVersion?: string; continue?: string };
    };
    // Items of a list carry no apiVersion/kind; put them back so every object is self-describing.
    const items = (list.items ?? []).map((i) => ({ apiVersion: type.apiVersion, kind: type.kind, ...i }));
    return {
      items,
      resourceVersion: list.metadata?.resourceVersion ?? "",
      continue: list.metadata?.continue,
    };
  }

  /**
   * Server-side apply of `obj` as our field manager, with force (we own what we render). Fields we stop
   * sending are removed, fields other managers own are left alone. `subresource: "status"` applies the status.
   */
  async apply<T extends KubeObject>(
    obj: KubeObject,
    opts: { subresource?: "status"; dryRun?: boolean; fieldManager?: string; force?: boolean } = {},
  ): Promise<T> {
    const { apiVersion, kind, metadata } = obj;
    if (!apiVersion || !kind || !metadata?.name)
      throw new Error("apply needs apiVersion, kind and metadata.name");
    const type = await this.resourceType(apiVersion, kind);
    const query: Record<string, string> = {
      fieldManager: opts.fieldManager ?? this.fieldManager,
      force: String(opts.force ?? true),
    };
    if (opts.dryRun) query.dryRun = "All";
    const path = this.path(type, metadata.namespace, metadata.name, opts.subresource);
    // The apply body must not carry a resourceVersion: that would turn apply into compare-and-swap.
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata;
    return (await this.call("apply", "PATCH", path, {
      query,
      body: { ...obj, metadata: meta },
      contentType: "application/apply-patch+yaml",
      write: !opts.dryRun,
    })) as T;
  }

  /** Creates an object (used for Events, which are never updated, and for Leases by the leader elector). */
  async create<T extends KubeObject>(obj: KubeObject): Promise<T> {
    const type = await this.resourceType(obj.apiVersion ?? "", obj.kind ?? "");
    const path = this.path(type, obj.metadata?.namespace);
    return (await this.call("create", "POST", path, {
      query: { fieldManager: this.fieldManager },
      body: obj,
      write: true,
    })) as T;
  }

  /** A JSON patch; with a `test` operation first it is a compare-and-swap (finalizers use that). */
  async jsonPatch<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    ops: object[],
  ): Promise<T> {
    return (await this.call("patch", "PATCH", this.path(type, namespace, name), {
      query: { fieldManager: this.fieldManager },
      body: ops,
      contentType: "application/json-patch+json",
      write: true,
    })) as T;
  }

  /** Deletes an object; a missing object counts as deleted. */
  async delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: { propagationPolicy?: "Foreground" | "Background" | "Orphan"; uid?: string } = {},
  ): Promise<void> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.uid) body.preconditions = { uid: opts.uid };
    try {
      await this.call("delete", "DELETE", this.path(type, namespace, name), { body, write: true });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /**
   * Streams a watch. Resolves when the server closes the stream (its timeoutSeconds passed, as it should),
   * rejects on an HTTP error, an ERROR event (410 Gone becomes an ApiError with status 410) or when no byte
   * arrived for `inactivityMs` — a half-open connection must not stall an informer silently.
   */
  async watch<T extends KubeObject>(
    type: ResourceType,
    opts: {
      namespace?: string;
      resourceVersion: string;
      labelSelector?: string;
      timeoutSeconds: number;
      inactivityMs: number;
      signal?: AbortSignal;
    },
    onEvent: (event: WatchEvent<T>) => void,
  ): Promise<void> {
    const query: Record<string, string> = {
      watch: "true",
      allowWatchBookmarks: "true",
      resourceVersion: opts.resourceVersion,
      timeoutSeconds: String(opts.timeoutSeconds),
    };
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    // The response headers must arrive within the inactivity limit too: a request written into a dead
    // keep-alive connection gets no answer at all.
    const headers = new AbortController();
    const headerTimer = setTimeout(
      () => headers.abort(new Error("watch got no response")),
      opts.inactivityMs,
    );
    const signal = opts.signal ? AbortSignal.any([opts.signal, headers.signal]) : headers.signal;
    const res = await this.open("GET", this.path(type, opts.namespace), { query, signal })
      .catch((err: unknown) => {
        this.onRequest?.("watch", "error");
        throw err;
      })
      .finally(() => clearTimeout(headerTimer));
    this.onRequest?.("watch", res.statusCode ?? 0);
    if ((res.statusCode ?? 0) >= 300) throw await errorFrom(res);
    await new Promise<void>((resolve, reject) => {
      let buffered = "";
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      // The first outcome wins: destroying the response below emits 'aborted', which must not replace it.
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
        res.destroy();
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => fail(new Error(`watch of ${type.plural} was silent for ${opts.inactivityMs} ms`)),
          opts.inactivityMs,
        );
      };
      arm();
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        arm();
        buffered += chunk;
        for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent<T>;
          if (event.type === "ERROR") {
            const status = event.object as unknown as { code?: number; reason?: string; message?: string };
            return fail(new ApiError(status.code ?? 500, status.reason, status.message ?? "watch error"));
          }
          onEvent(event);
        }
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      });
      res.on("error", (err) => fail(err));
      res.on("aborted", () => fail(new Error("watch aborted")));
    });
  }

  private async call(
    verb: string,
    method: string,
    path: string,
    opts: { query?: Record<string, string>; body?: unknown; contentType?: string; write?: boolean } = {},
  ): Promise<unknown> {
    if (opts.write && WRITE_VERBS.has(verb)) this.writeCount++;
    const res = await this.open(method, path, { ...opts, signal: AbortSignal.timeout(this.timeoutMs) }).catch(
      (err: unknown) => {
        this.onRequest?.(verb, "error");
        throw err;
      },
    );
    this.onRequest?.(verb, res.statusCode ?? 0);
    if ((res.statusCode ?? 0) >= 300) throw await errorFrom(res);
    const text = await readBody(res);
    return text ? JSON.parse(text) : undefined;
  }

  private async open(
    method: string,
    path: string,
    opts: { query?: Record<string, string>; body?: unknown; contentType?: string; signal?: AbortSignal },
  ): Promise<IncomingMessage> {
    // Re-read credentials every minute: in a pod the service account token file is rotated underneath us.
    if (!this.tls || Date.now() - this.tls.at > 60_000) {
      const options: RequestOptions = {};
      await this.kc.applyToHTTPSOptions(options);
      this.tls = { options, at: Date.now() };
    }
    const tls = this.tls.options;
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, {
        ...tls,
        method,
        headers: {
          ...(tls.headers ?? {}),
          accept: "application/json",
          "user-agent": "zitadel-operator",
          // The length, always: Node frames no body for DELETE by itself (no chunked encoding for that method),
          // so without it DeleteOptions (propagationPolicy, preconditions) never reached the API server.
          ...(payload
            ? {
                "content-type": opts.contentType ?? "application/json",
                "content-length": String(Buffer.byteLength(payload)),
              }
            : {}),
        },
        signal: opts.signal,
      });
      req.on("response", resolve);
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (c: string) => {
      text += c;
    });
    res.on("end", () => resolve(text));
    res.on("error", reject);
  });
}

async function errorFrom(res: IncomingMessage): Promise<ApiError> {
  const text = await readBody(res).catch(() => "");
  let status: { reason?: string; message?: string } = {};
  try {
    status = JSON.parse(text) as typeof status;
  } catch {
    status = { message: text.slice(0, 500) };
  }
  const code = res.statusCode ?? 0;
  return new ApiError(code, status.reason, status.message || `HTTP ${code}`);
}
