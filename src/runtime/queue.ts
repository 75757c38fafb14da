// The work queue between watch events and reconciles, keyed by `namespace/name`, in the spirit of
// controller-runtime's workqueue and kube-rs's runner + scheduler:
//
// - A key that waits is held once, however many events name it (events are hints; reconcile reads the world).
// - A key never runs twice at once. An add while it runs marks it dirty: it runs once more afterwards, so the
//   change that caused the add is not missed.
// - A delayed add keeps the earlier of two times, so a periodic resync never postpones an event-driven run.
// - A failed reconcile is retried with per-key exponential backoff; success forgets the key's failures.
//   A TerminalError is not retried (the object needs a change first, which brings a new event).
// - At most `concurrency` reconciles run at a time across all keys.

/** What a reconcile asks for next. `requeueAfterMs` schedules the next run: the periodic resync of an object. */
export type ReconcileResult = { requeueAfterMs?: number } | undefined;

/** Thrown by a reconcile that cannot succeed by retrying, e.g. a spec that refers to something impossible. */
export class TerminalError extends Error {
  override name = "TerminalError";
}

/** How a reconcile ended, as metrics count it. */
export type ReconcileOutcome = "success" | "requeue" | "error" | "terminal_error";

/** Hooks for metrics; every one is optional so a test can watch just the one it cares about. */
export interface QueueMetrics {
  /** Keys waiting to run (delayed keys are not counted until they are due). Called on every change. */
  depth?(keys: number): void;
  /** Time from a key becoming due to its reconcile starting. */
  queueLatency?(ms: number): void;
  /** How long a reconcile took and how it ended. */
  workDuration?(ms: number, outcome: ReconcileOutcome): void;
  /** A key was put back because its reconcile failed. */
  retry?(): void;
}

/** Timers and clock, injectable so tests control time. */
export interface QueueClock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface BackoffOptions {
  /** Delay before the first retry. Default 200 ms. */
  baseMs?: number;
  /** Ceiling of the delay, however often the key failed. Default 5 minutes. */
  maxMs?: number;
}

export interface WorkQueueOptions {
  reconcile: (key: string) => Promise<ReconcileResult>;
  /** How many keys may be reconciled at the same time. */
  concurrency: number;
  backoff?: BackoffOptions;
  metrics?: QueueMetrics;
  /** Told about every failed reconcile and when it will be retried (undefined: not retried). */
  onError?: (key: string, error: unknown, retryInMs: number | undefined) => void;
  clock?: QueueClock;
  /** A number in [0, 1), for jitter. */
  random?: () => number;
}

const systemClock: QueueClock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class WorkQueue {
  private readonly reconcile: (key: string) => Promise<ReconcileResult>;
  private readonly concurrency: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly metrics: QueueMetrics;
  private readonly onError: WorkQueueOptions["onError"];
  private readonly clock: QueueClock;
  private readonly random: () => number;

  /** Due keys and the time each became due, in the order they became due (a Map keeps insertion order). */
  private readonly due = new Map<string, number>();
  /** Keys scheduled for later, and when. */
  private readonly delayed = new Map<string, number>();
  private readonly running = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Consecutive failures per key, for the backoff. */
  private readonly failures = new Map<string, number>();
  private timer: { handle: unknown; at: number } | undefined;
  private started = false;
  private stopped = false;

  constructor(opts: WorkQueueOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new Error(`concurrency must be a positive integer, got ${opts.concurrency}`);
    }
    this.reconcile = opts.reconcile;
    this.concurrency = opts.concurrency;
    this.baseMs = opts.backoff?.baseMs ?? 200;
    this.maxMs = opts.backoff?.maxMs ?? 300_000;
    if (!(this.baseMs > 0 && this.maxMs >= this.baseMs)) {
      throw new Error(`backoff needs 0 < baseMs <= maxMs, got ${this.baseMs} and ${this.maxMs}`);
    }
    this.metrics = opts.metrics ?? {};
    this.onError = opts.onError;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
  }

  /** Begins reconciling. Keys added before are kept, so the caches can fill before the first reconcile. */
  start(): void {
    if (this.stopped) throw new Error("the work queue was shut down");
    this.started = true;
    this.dispatch();
  }

  /** Stops taking work; resolves when the reconciles that are running have finished. Waiting keys are dropped. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = undefined;
    this.due.clear();
    this.delayed.clear();
    this.reportDepth();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Reconcile `key` as soon as a worker is free (after its current run, if it is running). */
  add(key: string): void {
    if (this.stopped || this.due.has(key)) return;
    this.delayed.delete(key);
    this.due.set(key, this.clock.now());
    this.reportDepth();
    this.dispatch();
  }

  /** Reconcile `key` in `ms`, unless it is already due or scheduled sooner: the earlier time wins. */
  addAfter(key: string, ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`cannot schedule ${key} in ${ms} ms`);
    if (ms <= 0) {
      this.add(key);
      return;
    }
    if (this.stopped || this.due.has(key)) return;
    const at = this.clock.now() + ms;
    const scheduled = this.delayed.get(key);
    if (scheduled !== undefined && scheduled <= at) return;
    this.delayed.set(key, at);
    this.armTimer(at);
  }

  /** Keys waiting to run now. */
  depth(): number {
    return this.due.size;
  }

  /** Whether `key` is waiting, scheduled or running: for tests and diagnostics. */
  has(key: string): boolean {
    return this.due.has(key) || this.delayed.has(key) || this.running.has(key);
  }

  /**
   * The delay before retry number `failures` (1 for the first): exponential from `baseMs`, capped at `maxMs`,
   * with equal jitter, i.e. uniformly in [d/2, d] for the capped delay d. Jitter spreads the retries of the many
   * keys that fail together when the API server or a database is down; unlike full jitter ([0, d]) it keeps
   * half the delay as a floor, so a struggling dependency is never retried at once by an unlucky key, and the
   * delay still grows with every failure.
   */
  backoffMs(failures: number): number {
    const capped = Math.min(this.maxMs, this.baseMs * 2 ** Math.max(0, failures - 1));
    return capped / 2 + (capped / 2) * this.random();
  }

  /** Starts due keys that are not running, oldest first, until every worker is busy. */
  private dispatch(): void {
    if (!this.started || this.stopped) return;
    for (const [key, dueSince] of this.due) {
      if (this.running.size >= this.concurrency) break;
      if (this.running.has(key)) continue; // dirty: runs again when the current run ends
      this.due.delete(key);
      this.run(key, dueSince);
    }
    this.reportDepth();
  }

  private run(key: string, dueSince: number): void {
    this.running.add(key);
    const started = this.clock.now();
    this.metrics.queueLatency?.(Math.max(0, started - dueSince));
    const work = this.reconcileOnce(key, started).finally(() => {
      this.running.delete(key);
      this.inFlight.delete(work);
      this.dispatch();
    });
    this.inFlight.add(work);
  }

  private async reconcileOnce(key: string, started: number): Promise<void> {
    let outcome: ReconcileOutcome;
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key); // controller-runtime's Forget: the next failure starts from baseMs again
      const after = result?.requeueAfterMs;
      outcome = after !== undefined ? "requeue" : "success";
      if (after !== undefined) this.addAfter(key, after);
    } catch (err) {
      if (err instanceof TerminalError) {
        outcome = "terminal_error";
        this.failures.delete(key);
        this.onError?.(key, err, undefined);
      } else {
        outcome = "error";
        const failures = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, failures);
        const delay = this.backoffMs(failures);
        this.onError?.(key, err, this.stopped ? undefined : delay);
        if (!this.stopped) {
          this.metrics.retry?.();
          this.addAfter(key, delay);
        }
      }
    }
    this.metrics.workDuration?.(this.clock.now() - started, outcome);
  }

  /** One timer, for the earliest delayed key; moving it earlier is cheap, recomputing happens when it fires. */
  private armTimer(at: number): void {
    if (this.stopped || (this.timer && this.timer.at <= at)) return;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    const handle = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.promoteDelayed();
      },
      Math.max(0, at - this.clock.now()),
    );
    this.timer = { handle, at };
  }

  private promoteDelayed(): void {
    const now = this.clock.now();
    const ready = [...this.delayed].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [key, at] of ready) {
      this.delayed.delete(key);
      if (!this.due.has(key)) this.due.set(key, at);
    }
    let next = Number.POSITIVE_INFINITY;
    for (const at of this.delayed.values()) next = Math.min(next, at);
    if (next !== Number.POSITIVE_INFINITY) this.armTimer(next);
    this.reportDepth();
    this.dispatch();
  }

  private reportDepth(): void {
    this.metrics.depth?.(this.due.size);
  }
}
