import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ReconcileOutcome,
  type ReconcileResult,
  TerminalError,
  WorkQueue,
  type WorkQueueOptions,
} from "../../../src/runtime/queue.ts";

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Lets every promise chain that can move on do so, without letting fake time pass. */
const settle = () => vi.advanceTimersByTimeAsync(0);
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A queue whose reconcile records every start (key and fake time) and runs `behaviour`. */
function recordingQueue(
  behaviour: (key: string, run: number) => Promise<ReconcileResult> | ReconcileResult = () => undefined,
  opts: Partial<WorkQueueOptions> = {},
) {
  const starts: { key: string; at: number }[] = [];
  const queue = new WorkQueue({
    concurrency: 4,
    random: () => 0,
    ...opts,
    reconcile: async (key) => {
      starts.push({ key, at: Date.now() });
      return behaviour(key, starts.filter((s) => s.key === key).length);
    },
  });
  return { queue, starts };
}

describe("WorkQueue", () => {
  it("reconciles a key added several times while it waits only once", async () => {
    const { queue, starts } = recordingQueue();
    queue.add("ns/a");
    queue.add("ns/a");
    queue.add("ns/b");
    queue.add("ns/a");
    expect(queue.depth()).toBe(2);
    queue.start();
    await settle();
    expect(starts.map((s) => s.key)).toEqual(["ns/a", "ns/b"]);
    expect(queue.depth()).toBe(0);
  });

  it("never runs two reconciles of one key at once, and runs a key added during its run once more after it", async () => {
    const gates = [deferred(), deferred()];
    let active = 0;
    let maxActive = 0;
    const { queue, starts } = recordingQueue(async (_key, run) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await gates[run - 1]?.promise;
      active--;
      return undefined;
    });
    queue.start();
    queue.add("ns/a");
    await settle();
    queue.add("ns/a");
    queue.add("ns/a");
    await settle();
    expect(starts).toHaveLength(1);
    gates[0]?.resolve();
    await settle();
    expect(starts).toHaveLength(2);
    gates[1]?.resolve();
    await advance(60_000);
    expect(starts).toHaveLength(2);
    expect(maxActive).toBe(1);
  });

  it("retries a failing key with exponential backoff up to the cap, and starts over after a success", async () => {
    const failUntil = 6;
    const { queue, starts } = recordingQueue(
      (_key, run) => {
        if (run < failUntil || run === failUntil + 1) throw new Error("database unreachable");
        return undefined;
      },
      { backoff: { baseMs: 100, maxMs: 800 }, random: () => 0 },
    );
    queue.start();
    queue.add("ns/a");
    await advance(10_000);
    // random() = 0 gives the lower jitter bound: half of min(800, 100 * 2^(n-1)).
    const gaps = starts.slice(1).map((s, i) => s.at - (starts[i]?.at ?? 0));
    expect(gaps.slice(0, failUntil - 1)).toEqual([50, 100, 200, 400, 400]);
    // Run 6 succeeded; run 7 was a fresh add that failed: its retry is back at the first step.
    queue.add("ns/a");
    await advance(10_000);
    const afterSuccess = starts.slice(failUntil);
    expect(afterSuccess).toHaveLength(2);
    expect((afterSuccess[1]?.at ?? 0) - (afterSuccess[0]?.at ?? 0)).toBe(50);
  });

  it("keeps every retry delay within [d/2, d] of the capped exponential delay d", () => {
    const queue = new WorkQueue({
      reconcile: async () => undefined,
      concurrency: 1,
      backoff: { baseMs: 200, maxMs: 300_000 },
    });
    for (let failures = 1; failures <= 20; failures++) {
      const d = Math.min(300_000, 200 * 2 ** (failures - 1));
      for (let sample = 0; sample < 200; sample++) {
        const delay = queue.backoffMs(failures);
        expect(delay).toBeGreaterThanOrEqual(d / 2);
        expect(delay).toBeLessThanOrEqual(d);
      }
    }
    const extremes = (random: number) =>
      new WorkQueue({ reconcile: async () => undefined, concurrency: 1, random: () => random }).backoffMs(3);
    expect(extremes(0)).toBe(400);
    expect(extremes(0.999999)).toBeCloseTo(800, 0);
  });

  it("does not retry a TerminalError", async () => {
    const errors: { key: string; retryInMs: number | undefined }[] = [];
    const { queue, starts } = recordingQueue(
      () => {
        throw new TerminalError("spec.database names no database");
      },
      { onError: (key, _err, retryInMs) => errors.push({ key, retryInMs }) },
    );
    queue.start();
    queue.add("ns/a");
    await advance(3_600_000);
    expect(starts).toHaveLength(1);
    expect(errors).toEqual([{ key: "ns/a", retryInMs: undefined }]);
    expect(queue.has("ns/a")).toBe(false);
  });

  it("reconciles again after requeueAfterMs, and not before", async () => {
    const { queue, starts } = recordingQueue((_key, run) =>
      run === 1 ? { requeueAfterMs: 30_000 } : undefined,
    );
    queue.start();
    queue.add("ns/a");
    await advance(29_999);
    expect(starts).toHaveLength(1);
    await advance(1);
    expect(starts.map((s) => s.at)).toEqual([0, 30_000]);
  });

  it("keeps the earlier time when a key is scheduled twice", async () => {
    const { queue, starts } = recordingQueue();
    queue.start();
    queue.addAfter("ns/later-first", 5_000);
    queue.addAfter("ns/later-first", 1_000);
    queue.addAfter("ns/sooner-first", 1_000);
    queue.addAfter("ns/sooner-first", 5_000);
    await advance(10_000);
    expect(starts).toEqual([
      { key: "ns/later-first", at: 1_000 },
      { key: "ns/sooner-first", at: 1_000 },
    ]);
  });

  it("runs a scheduled key at once when it is added, and not again at the scheduled time", async () => {
    const { queue, starts } = recordingQueue();
    queue.start();
    queue.addAfter("ns/a", 60_000);
    await advance(1_000);
    queue.add("ns/a");
    await advance(120_000);
    expect(starts).toEqual([{ key: "ns/a", at: 1_000 }]);
  });

  it("runs at most `concurrency` reconciles at a time", async () => {
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    const { queue, starts } = recordingQueue(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await gate.promise;
        active--;
        return undefined;
      },
      { concurrency: 2 },
    );
    for (const key of ["ns/a", "ns/b", "ns/c", "ns/d", "ns/e"]) queue.add(key);
    queue.start();
    await settle();
    expect(active).toBe(2);
    expect(queue.depth()).toBe(3);
    gate.resolve();
    await settle();
    expect(starts).toHaveLength(5);
    expect(maxActive).toBe(2);
  });

  it("waits for running reconciles on shutdown and takes no new work", async () => {
    const gate = deferred();
    let finished = false;
    const { queue, starts } = recordingQueue(async () => {
      await gate.promise;
      finished = true;
      return { requeueAfterMs: 1_000 };
    });
    queue.start();
    queue.add("ns/a");
    queue.addAfter("ns/b", 500);
    await settle();
    let shutDown = false;
    const shutdown = queue.shutdown().then(() => {
      shutDown = true;
    });
    queue.add("ns/c");
    await advance(5_000);
    expect(shutDown).toBe(false);
    gate.resolve();
    await shutdown;
    expect(finished).toBe(true);
    await advance(60_000);
    expect(starts.map((s) => s.key)).toEqual(["ns/a"]);
  });

  it("reports depth, queue latency, work duration with its outcome, and retries", async () => {
    const depths: number[] = [];
    const latencies: number[] = [];
    const durations: { ms: number; outcome: ReconcileOutcome }[] = [];
    let retries = 0;
    const { queue } = recordingQueue(
      async (key) => {
        await new Promise((r) => setTimeout(r, 250));
        if (key === "ns/fails") throw new Error("boom");
        if (key === "ns/terminal") throw new TerminalError("no");
        return key === "ns/resync" ? { requeueAfterMs: 60_000 } : undefined;
      },
      {
        concurrency: 1,
        backoff: { baseMs: 1_000, maxMs: 1_000 },
        metrics: {
          depth: (n) => depths.push(n),
          queueLatency: (ms) => latencies.push(ms),
          workDuration: (ms, outcome) => durations.push({ ms, outcome }),
          retry: () => retries++,
        },
      },
    );
    for (const key of ["ns/ok", "ns/resync", "ns/fails", "ns/terminal"]) queue.add(key);
    expect(depths.at(-1)).toBe(4);
    queue.start();
    await advance(1_000);
    expect(durations).toEqual([
      { ms: 250, outcome: "success" },
      { ms: 250, outcome: "requeue" },
      { ms: 250, outcome: "error" },
      { ms: 250, outcome: "terminal_error" },
    ]);
    // One worker: each key waited for the ones before it.
    expect(latencies).toEqual([0, 250, 500, 750]);
    expect(retries).toBe(1);
    expect(depths.at(-1)).toBe(0);
    await queue.shutdown();
  });
});
