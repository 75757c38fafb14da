// An informer: a local cache of one kind, kept current by list + watch, that tells its handlers what changed.
//
// What it does about the failure modes of @kubernetes/client-node's informer (research B3):
// - it never stops on its own: every error (a failed list, a refused watch, a dropped connection, a 429 while
//   a CRD's storage initialises) is retried with exponential backoff until stop();
// - 410 Gone (the resourceVersion was compacted away) re-lists at once and replaces the cache atomically,
//   telling handlers about objects that vanished meanwhile as deletions;
// - watches ask for bookmarks, so a quiet kind's resourceVersion stays fresh and a re-watch rarely needs a
//   re-list, and end after a random server-side timeout, so they are renewed regularly;
// - a watch that stays silent past its timeout is treated as dead (half-open connections stall silently);
// - handlers are synchronous and their exceptions are caught and logged: they only enqueue keys.

import { isGone, type KubeClient, type KubeObject, type ResourceType } from "./kube.ts";
import type { Logger } from "./log.ts";

export type InformerEvent<T> =
  | { type: "added"; object: T }
  | { type: "updated"; object: T; old: T }
  | { type: "deleted"; object: T };

export type InformerHandler<T> = (event: InformerEvent<T>) => void;

export interface InformerOptions {
  client: KubeClient;
  type: ResourceType;
  /** Watch one namespace; all namespaces when undefined. */
  namespace?: string;
  labelSelector?: string;
  log: Logger;
  /** Server-side watch timeout range in seconds (a random value in it per watch). Default 240–360. */
  watchTimeoutSeconds?: [number, number];
  /** How long past the server-side timeout a silent watch is given before it counts as dead. Default 30 s. */
  stallGraceMs?: number;
  /** Backoff after errors. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** Page size of lists. */
  pageSize?: number;
}

export interface InformerStats {
  lists: number;
  watches: number;
  relistsAfterGone: number;
  errors: number;
}

export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : (obj.metadata?.name ?? "");
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly type: ResourceType;
  readonly stats: InformerStats = { lists: 0, watches: 0, relistsAfterGone: 0, errors: 0 };
  private readonly opts: InformerOptions;
  private readonly log: Logger;
  private store = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private resourceVersion = "";
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private syncedOnce = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(opts: InformerOptions) {
    this.opts = opts;
    this.type = opts.type;
    this.log = opts.log.with({ informer: opts.type.plural, namespace: opts.namespace ?? "*" });
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  /** Resolves once the first list has filled the cache. */
  synced(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!this.resourceVersion) await this.relist(signal);
        await this.watchOnce(signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          // Our resourceVersion was compacted away: start over from a fresh list, right away.
          this.stats.relistsAfterGone++;
          this.log.info("resourceVersion expired (410 Gone); listing again");
          this.resourceVersion = "";
          continue;
        }
        failures++;
        this.stats.errors++;
        const delay = backoff(failures, this.opts.backoff);
        this.log.warn("list/watch failed; retrying", { error: errorText(err), retryInMs: Math.round(delay) });
        await sleep(delay, signal);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion = "";
    do {
      const page = await this.opts.client.list<T>(this.type, {
        namespace: this.opts.namespace,
        labelSelector: this.opts.labelSelector,
        limit: this.opts.pageSize ?? 500,
        continue: continueToken,
      });
      for (const item of page.items) fresh.set(objectKey(item), item);
      continueToken = page.continue || undefined;
      resourceVersion = page.resourceVersion;
    } while (continueToken && !signal.aborted);
    this.stats.lists++;
    // Replace the cache in one step, then tell handlers the difference.
    const old = this.store;
    this.store = fresh;
    this.resourceVersion = resourceVersion;
    for (const [key, obj] of fresh) {
      const before = old.get(key);
      if (!before) this.emit({ type: "added", object: obj });
      else if (before.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.emit({ type: "updated", object: obj, old: before });
      }
    }
    for (const [key, obj] of old) if (!fresh.has(key)) this.emit({ type: "deleted", object: obj });
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const [min, max] = this.opts.watchTimeoutSeconds ?? [240, 360];
    const timeoutSeconds = Math.round(min + Math.random() * (max - min));
    this.stats.watches++;
    await this.opts.client.watch<T>(
      this.type,
      {
        namespace: this.opts.namespace,
        labelSelector: this.opts.labelSelector,
        resourceVersion: this.resourceVersion,
        timeoutSeconds,
        // The server ends the watch at timeoutSeconds; silence well past that means a dead connection.
        inactivityMs: timeoutSeconds * 1000 + (this.opts.stallGraceMs ?? 30_000),
        signal,
      },
      (event) => {
        const obj = event.object;
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (event.type === "BOOKMARK") return;
        const key = objectKey(obj);
        const before = this.store.get(key);
        if (event.type === "DELETED") {
          this.store.delete(key);
          this.emit({ type: "deleted", object: obj });
          return;
        }
        const complete = { apiVersion: this.type.apiVersion, kind: this.type.kind, ...obj } as T;
        this.store.set(key, complete);
        this.emit(
          before ? { type: "updated", object: complete, old: before } : { type: "added", object: complete },
        );
      },
    );
  }

  private emit(event: InformerEvent<T>): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        this.log.error("informer handler threw", { error: errorText(err) });
      }
    }
  }
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, base·2^(n-1))]. */
export function backoff(failures: number, opts: { baseMs?: number; maxMs?: number } = {}): number {
  const base = opts.baseMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(failures - 1, 30));
  return Math.max(base / 2, Math.random() * ceiling);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
