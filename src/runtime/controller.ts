// A controller: informers for the primary kind, its children and related objects, mapping every change to the
// key of the primary object it concerns, and a work queue that reconciles each key, one at a time per key.
// Reconcile reads from the caches, never from the event: events are hints, the cache is the truth.
import { errorText, Informer, type InformerEvent, objectKey } from "./informer.ts";
import type { KubeClient, KubeObject, ResourceType } from "./kube.ts";
import type { Logger } from "./log.ts";
import { type QueueMetrics, type ReconcileResult, TerminalError, WorkQueue } from "./queue.ts";

export type { ReconcileResult };
export { TerminalError };

export interface ReconcileRequest<T extends KubeObject> {
  key: string;
  namespace: string | undefined;
  name: string;
  /** The object as the cache has it now; undefined once it is gone. */
  object: T | undefined;
  log: Logger;
}

export interface Watched {
  type: ResourceType;
  /** The keys (namespace/name of primary objects) a change of `obj` concerns. */
  map: (obj: KubeObject) => string[];
  labelSelector?: string;
}

export interface ControllerOptions<T extends KubeObject> {
  /** Short lower-case name, in logs and metrics. */
  name: string;
  client: KubeClient;
  log: Logger;
  /** The primary kind. */
  for: ResourceType;
  /** Kinds whose objects name a primary object as their controller owner. */
  owns?: ResourceType[];
  /** Other kinds, mapped to primary keys by a function. */
  watches?: Watched[];
  /** Namespaces to watch; every namespace when empty. */
  namespaces?: string[];
  concurrency?: number;
  /** After a successful reconcile that asked for nothing else, reconcile again after about this long. */
  resyncMs?: number;
  metrics?: QueueMetrics;
  reconcile: (req: ReconcileRequest<T>) => Promise<ReconcileResult>;
}

/** What the manager needs of a controller, whatever kind it reconciles. */
export interface ControllerLifecycle {
  readonly name: string;
  readonly hasSynced: boolean;
  startCaches(): void;
  startReconciling(): Promise<void>;
  stopReconciling(): Promise<void>;
  stop(): Promise<void>;
}

export class Controller<T extends KubeObject = KubeObject> implements ControllerLifecycle {
  readonly name: string;
  private readonly opts: ControllerOptions<T>;
  private readonly log: Logger;
  private readonly primary: Informer<T>[] = [];
  private readonly informers: Informer[] = [];
  private readonly byType = new Map<string, Informer[]>();
  private queue: WorkQueue | undefined;

  constructor(opts: ControllerOptions<T>) {
    this.opts = opts;
    this.name = opts.name;
    this.log = opts.log.with({ controller: opts.name });
    const namespaces = opts.namespaces?.length ? opts.namespaces : [undefined];
    for (const namespace of namespaces) {
      const primary = this.informer<T>(opts.for, namespace);
      primary.on((e) => {
        if (primaryChanged(e)) this.enqueue(objectKey(e.object));
      });
      this.primary.push(primary);
      for (const owned of opts.owns ?? []) {
        this.informer(owned, namespace).on((e) => {
          for (const key of controllerOwnerKeys(e, opts.for)) this.enqueue(key);
        });
      }
      for (const w of opts.watches ?? []) {
        this.informer(w.type, namespace, w.labelSelector).on((e) => {
          for (const key of mapped(e, w.map)) this.enqueue(key);
        });
      }
    }
  }

  /** Starts the informers (followers keep their caches warm too, so a new leader starts fast). */
  startCaches(): void {
    for (const i of this.informers) i.start();
  }

  /** Resolves when every cache has listed once. */
  async synced(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.synced()));
  }

  get hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced);
  }

  /** Starts reconciling (the leader does): every primary object is reconciled once, then on change. */
  async startReconciling(): Promise<void> {
    await this.synced();
    this.queue = new WorkQueue({
      reconcile: (key) => this.reconcileKey(key),
      concurrency: this.opts.concurrency ?? 2,
      metrics: this.opts.metrics,
      onError: (key, error, retryInMs) =>
        this.log.warn("reconcile failed", { key, error: errorText(error), retryInMs }),
    });
    for (const informer of this.primary) for (const obj of informer.list()) this.queue.add(objectKey(obj));
    this.queue.start();
    this.log.info("reconciling");
  }

  /** Stops reconciling; resolves when the reconciles in flight have finished. */
  async stopReconciling(): Promise<void> {
    const queue = this.queue;
    this.queue = undefined;
    await queue?.shutdown();
  }

  async stop(): Promise<void> {
    await this.stopReconciling();
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** A cached object of any watched kind. */
  get<O extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): O | undefined {
    for (const informer of this.byType.get(typeKey(type)) ?? []) {
      const found = informer.get(namespace, name);
      if (found) return found as O;
    }
    return undefined;
  }

  /** Cached objects of any watched kind, optionally of one namespace and matching labels. */
  list<O extends KubeObject>(type: ResourceType, namespace?: string, labels?: Record<string, string>): O[] {
    const all = (this.byType.get(typeKey(type)) ?? []).flatMap((i) => i.list(namespace) as O[]);
    if (!labels) return all;
    return all.filter((o) => Object.entries(labels).every(([k, v]) => o.metadata?.labels?.[k] === v));
  }

  enqueue(key: string): void {
    this.queue?.add(key);
  }

  private informer<O extends KubeObject>(type: ResourceType, namespace?: string, labelSelector?: string) {
    const informer = new Informer<O>({
      client: this.opts.client,
      type,
      namespace,
      labelSelector,
      log: this.log,
    });
    this.informers.push(informer as unknown as Informer);
    const list = this.byType.get(typeKey(type)) ?? [];
    list.push(informer as unknown as Informer);
    this.byType.set(typeKey(type), list);
    return informer;
  }

  private async reconcileKey(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.includes("/") ? key.split("/", 2) : [undefined, key];
    const object = this.get<T>(this.opts.for, namespace, name ?? "");
    const log = this.log.with({ key, generation: object?.metadata?.generation });
    const result = await this.opts.reconcile({ key, namespace, name: name ?? "", object, log });
    if (result?.requeueAfterMs !== undefined) return result;
    // Periodic resync with jitter, as a guard against missed events.
    const resync = this.opts.resyncMs ?? 10 * 60_000;
    return object ? { requeueAfterMs: resync * (0.9 + Math.random() * 0.2) } : undefined;
  }
}

function typeKey(type: ResourceType): string {
  return `${type.apiVersion}/${type.kind}`;
}

/**
 * Which changes of a primary object need a reconcile: new, deleted, a new generation (spec), or metadata the
 * reconcile reads (labels, annotations, finalizers, deletion). Status changes are ours and need none.
 */
export function primaryChanged(e: InformerEvent<KubeObject>): boolean {
  if (e.type !== "updated") return true;
  const a = e.old.metadata ?? {};
  const b = e.object.metadata ?? {};
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {}) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? [])
  );
}

function controllerOwnerKeys(e: InformerEvent<KubeObject>, owner: ResourceType): string[] {
  const objects = e.type === "updated" ? [e.object, e.old] : [e.object];
  const keys = new Set<string>();
  for (const obj of objects) {
    for (const ref of obj.metadata?.ownerReferences ?? []) {
      if (ref.controller && ref.kind === owner.kind && ref.apiVersion === owner.apiVersion) {
        const ns = obj.metadata?.namespace;
        keys.add(ns ? `${ns}/${ref.name}` : ref.name);
      }
    }
  }
  return [...keys];
}

function mapped(e: InformerEvent<KubeObject>, map: (obj: KubeObject) => string[]): string[] {
  const keys = new Set(map(e.object));
  if (e.type === "updated") for (const k of map(e.old)) keys.add(k);
  return [...keys];
}
