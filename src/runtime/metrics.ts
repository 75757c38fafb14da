// Prometheus metrics and the health server (/metrics, /healthz, /readyz).
//
// Why not prom-client: the operator needs counters, gauges and histograms with labels, and the text format
// (https://prometheus.io/docs/instrumenting/exposition_formats/) is a few lines per type. Writing it here is less
// code than what we would configure and wrap in prom-client, and it adds no dependency to an image that holds
// CA keys. What we give up is the summary type and OpenMetrics negotiation, neither of which we use.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { QueueMetrics, ReconcileOutcome } from "./queue.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels<L extends string> = Readonly<Record<L, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/** What every metric kind shares: a name, help, label names and one series per distinct set of label values. */
abstract class Metric<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected readonly series = new Map<string, { labels: Labels<L>; state: S }>();

  constructor(opts: MetricOptions<L>) {
    if (!METRIC_NAME.test(opts.name)) throw new Error(`invalid metric name "${opts.name}"`);
    for (const label of opts.labelNames ?? []) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) throw new Error(`invalid label name "${label}"`);
    }
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
  }

  abstract readonly type: "counter" | "gauge" | "histogram";
  protected abstract initial(): S;
  /** The sample lines of one series. */
  protected abstract samples(labels: Labels<L>, state: S): string[];

  /** Drops a series, e.g. the expiry of a certificate that no longer exists. */
  remove(labels: Labels<L>): void {
    this.series.delete(this.keyOf(labels));
  }

  exposition(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, state } of this.series.values()) lines.push(...this.samples(labels, state));
    return lines.join("\n");
  }

  protected stateOf(labels: Labels<L>): S {
    const key = this.keyOf(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, state: this.initial() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  protected peek(labels: Labels<L>): S | undefined {
    return this.series.get(this.keyOf(labels))?.state;
  }

  private keyOf(labels: Labels<L>): string {
    return JSON.stringify(
      this.labelNames.map((name) => {
        const value = labels[name];
        if (typeof value !== "string") throw new Error(`metric ${this.name} needs label "${name}"`);
        return value;
      }),
    );
  }
}

export class Counter<L extends string = never> extends Metric<L, { value: number }> {
  readonly type = "counter";

  constructor(opts: MetricOptions<L>) {
    super(opts);
    // A counter without labels exists from the start, so rate() sees its first increase.
    if (this.labelNames.length === 0) this.stateOf({} as Labels<L>);
  }

  inc(labels: Labels<L>, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up, got ${by}`);
    this.stateOf(labels).value += by;
  }

  get(labels: Labels<L>): number {
    return this.peek(labels)?.value ?? 0;
  }

  protected initial() {
    return { value: 0 };
  }
  protected samples(labels: Labels<L>, state: { value: number }) {
    return [sample(this.name, labels, state.value)];
  }
}

export class Gauge<L extends string = never> extends Metric<L, { value: number }> {
  readonly type = "gauge";

  set(labels: Labels<L>, value: number): void {
    this.stateOf(labels).value = value;
  }

  get(labels: Labels<L>): number | undefined {
    return this.peek(labels)?.value;
  }

  protected initial() {
    return { value: 0 };
  }
  protected samples(labels: Labels<L>, state: { value: number }) {
    return [sample(this.name, labels, state.value)];
  }
}

interface HistogramState {
  /** Per bucket, not cumulative; the exposition accumulates. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram<L extends string = never> extends Metric<L, HistogramState> {
  readonly type = "histogram";
  readonly buckets: readonly number[];

  constructor(opts: MetricOptions<L> & { buckets: readonly number[] }) {
    super(opts);
    if (this.labelNames.some((name) => (name as string) === "le")) {
      throw new Error(`histogram ${this.name} cannot have a label "le"`);
    }
    this.buckets = [...new Set(opts.buckets)].filter(Number.isFinite).sort((a, b) => a - b);
  }

  observe(labels: Labels<L>, value: number): void {
    const state = this.stateOf(labels);
    const bucket = this.buckets.findIndex((upper) => value <= upper);
    if (bucket >= 0) state.counts[bucket] = (state.counts[bucket] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  protected samples(labels: Labels<L>, state: HistogramState) {
    const lines: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((upper, i) => {
      cumulative += state.counts[i] ?? 0;
      lines.push(sample(`${this.name}_bucket`, { ...labels, le: formatValue(upper) }, cumulative));
    });
    lines.push(sample(`${this.name}_bucket`, { ...labels, le: "+Inf" }, state.count));
    lines.push(sample(`${this.name}_sum`, labels, state.sum));
    lines.push(sample(`${this.name}_count`, labels, state.count));
    return lines;
  }
}

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

/** The metrics of one process, in the order they were made, exposed in the Prometheus text format. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, AnyMetric>();
  private readonly collectors: (() => void)[] = [];

  counter<L extends string = never>(opts: MetricOptions<L>): Counter<L> {
    return this.register(new Counter(opts));
  }

  gauge<L extends string = never>(opts: MetricOptions<L>): Gauge<L> {
    return this.register(new Gauge(opts));
  }

  histogram<L extends string = never>(opts: MetricOptions<L> & { buckets: readonly number[] }): Histogram<L> {
    return this.register(new Histogram(opts));
  }

  /** Runs before every exposition: for values that are read rather than counted, such as memory. */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  exposition(): string {
    for (const collect of this.collectors) collect();
    return `${[...this.metrics.values()].map((m) => m.exposition()).join("\n")}\n`;
  }

  private register<M extends AnyMetric>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }
}

function sample(name: string, labels: Readonly<Record<string, string>>, value: number): string {
  const pairs = Object.entries(labels).map(([label, v]) => `${label}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

const PREFIX = "zitadel_operator_";

// Reconciles take milliseconds when nothing changes and up to a minute when they wait on a database.
const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// A key can wait long behind slow reconciles; minutes of queueing are worth seeing.
const QUEUE_BUCKETS = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

export interface CertificateLabels {
  /** The CockroachCluster or Zitadel the certificate belongs to (namespace/name). */
  cluster: string;
  /** The Secret that holds it (namespace/name). */
  secret: string;
  /** Which certificate in the Secret: "ca", "node", "client.root", … */
  certificate: string;
}

/**
 * The operator's metrics. Names follow controller-runtime's (reconcile_total, workqueue_depth, …) under our
 * prefix, so existing dashboards and alerts translate.
 */
export class OperatorMetrics {
  readonly registry: MetricsRegistry;
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly terminalReconcileErrors: Counter<"controller">;
  readonly reconcileDuration: Histogram<"controller">;
  readonly queueDepth: Gauge<"controller">;
  readonly queueLatency: Histogram<"controller">;
  readonly queueRetries: Counter<"controller">;
  readonly apiRequests: Counter<"verb" | "code">;
  readonly certificateExpiry: Gauge<keyof CertificateLabels>;
  readonly leader: Gauge;

  constructor(registry = new MetricsRegistry()) {
    this.registry = registry;
    this.reconcileTotal = registry.counter({
      name: `${PREFIX}reconcile_total`,
      help: "Reconciles by controller and result (success, error, requeue).",
      labelNames: ["controller", "result"],
    });
    this.reconcileErrors = registry.counter({
      name: `${PREFIX}reconcile_errors_total`,
      help: "Reconciles that failed, terminal errors included.",
      labelNames: ["controller"],
    });
    this.terminalReconcileErrors = registry.counter({
      name: `${PREFIX}terminal_reconcile_errors_total`,
      help: "Reconciles that failed with an error retrying cannot fix; the object needs a change.",
      labelNames: ["controller"],
    });
    this.reconcileDuration = registry.histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: "How long a reconcile took.",
      labelNames: ["controller"],
      buckets: RECONCILE_BUCKETS,
    });
    this.queueDepth = registry.gauge({
      name: `${PREFIX}workqueue_depth`,
      help: "Keys waiting to be reconciled.",
      labelNames: ["controller"],
    });
    this.queueLatency = registry.histogram({
      name: `${PREFIX}workqueue_queue_duration_seconds`,
      help: "How long a key waited between becoming due and its reconcile starting.",
      labelNames: ["controller"],
      buckets: QUEUE_BUCKETS,
    });
    this.queueRetries = registry.counter({
      name: `${PREFIX}workqueue_retries_total`,
      help: "Keys put back with backoff after a failed reconcile.",
      labelNames: ["controller"],
    });
    this.apiRequests = registry.counter({
      name: `${PREFIX}api_requests_total`,
      help: "Requests to Kubernetes API servers by verb and HTTP status code ('error' when there was no answer).",
      labelNames: ["verb", "code"],
    });
    this.certificateExpiry = registry.gauge({
      name: `${PREFIX}certificate_expiry_timestamp_seconds`,
      help: "When a certificate the operator manages expires (notAfter, Unix seconds).",
      labelNames: ["cluster", "secret", "certificate"],
    });
    this.leader = registry.gauge({
      name: `${PREFIX}leader`,
      help: "1 while this replica holds the leader Lease, else 0.",
    });
    this.leader.set({}, 0);
    registerProcessMetrics(registry);
  }

  /** The work queue's hooks for one controller. */
  queueMetrics(controller: string): QueueMetrics {
    return {
      depth: (keys) => this.queueDepth.set({ controller }, keys),
      queueLatency: (ms) => this.queueLatency.observe({ controller }, ms / 1000),
      retry: () => this.queueRetries.inc({ controller }),
      workDuration: (ms, outcome) => this.recordReconcile(controller, ms, outcome),
    };
  }

  recordReconcile(controller: string, ms: number, outcome: ReconcileOutcome): void {
    this.reconcileDuration.observe({ controller }, ms / 1000);
    const result = outcome === "terminal_error" ? "error" : outcome;
    this.reconcileTotal.inc({ controller, result });
    if (result === "error") this.reconcileErrors.inc({ controller });
    if (outcome === "terminal_error") this.terminalReconcileErrors.inc({ controller });
  }

  /** `code` is the HTTP status, or "error" when the request got no answer (refused, reset, timed out). */
  recordApiRequest(verb: string, code: number | string): void {
    this.apiRequests.inc({ verb: verb.toUpperCase(), code: String(code) });
  }

  setCertificateExpiry(labels: CertificateLabels, notAfter: Date): void {
    this.certificateExpiry.set(labels, Math.floor(notAfter.getTime() / 1000));
  }

  forgetCertificate(labels: CertificateLabels): void {
    this.certificateExpiry.remove(labels);
  }

  setLeader(leading: boolean): void {
    this.leader.set({}, leading ? 1 : 0);
  }
}

// The names every Prometheus client library exports, so standard process dashboards work.
function registerProcessMetrics(registry: MetricsRegistry): void {
  const cpu = registry.counter({
    name: "process_cpu_seconds_total",
    help: "User and system CPU time spent, in seconds.",
  });
  const rss = registry.gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
  });
  const heap = registry.gauge({ name: "nodejs_heap_used_bytes", help: "V8 heap in use, in bytes." });
  const start = registry.gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since the Unix epoch, in seconds.",
  });
  start.set({}, Math.round(Date.now() / 1000 - process.uptime()));
  registry.onCollect(() => {
    const usage = process.cpuUsage();
    const seconds = (usage.user + usage.system) / 1e6;
    cpu.inc({}, Math.max(0, seconds - cpu.get({})));
    rss.set({}, process.memoryUsage.rss());
    heap.set({}, process.memoryUsage().heapUsed);
  });
}

/** The metrics of this process. */
export const operatorMetrics = new OperatorMetrics();

/** Counts one request to a Kubernetes API server: the hook the API client calls after every answer. */
export function recordApiRequest(verb: string, code: number | string): void {
  operatorMetrics.recordApiRequest(verb, code);
}

export interface HealthServerOptions {
  /** Where /healthz and /readyz listen: "127.0.0.1:8081", ":8081" (every interface), "[::1]:8081"; port 0 picks one. */
  address: string;
  /** Where /metrics listens; the same as `address` (or left out) serves everything from one port. */
  metricsAddress?: string;
  /** Whether the operator is ready to work, e.g. its informers have synced. */
  ready: () => boolean;
  registry?: MetricsRegistry;
}

export interface HealthServer {
  /** The address the probes listen on, with the real port. */
  readonly address: string;
  readonly metricsAddress: string;
  close(): Promise<void>;
}

/**
 * Serves the probes and the metrics. /healthz answers 200 while the process can answer at all (liveness must
 * not depend on the API server, or an API outage restarts every replica); /readyz answers 200 only while
 * `ready()` says so.
 */
export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const registry = opts.registry ?? operatorMetrics.registry;
  const routes: Record<string, () => { status: number; type: string; body: string }> = {
    "/healthz": () => ({ status: 200, type: "text/plain; charset=utf-8", body: "ok\n" }),
    "/readyz": () =>
      opts.ready()
        ? { status: 200, type: "text/plain; charset=utf-8", body: "ok\n" }
        : { status: 503, type: "text/plain; charset=utf-8", body: "not ready\n" },
  };
  const metricsRoute = {
    "/metrics": () => ({ status: 200, type: METRICS_CONTENT_TYPE, body: registry.exposition() }),
  };
  // Two ":0" addresses ask for two ports, not one.
  const together =
    opts.metricsAddress === undefined ||
    (opts.metricsAddress === opts.address && parseListenAddress(opts.address).port !== 0);

  const probes = await listen(opts.address, together ? { ...routes, ...metricsRoute } : routes);
  if (together) {
    return {
      address: probes.address,
      metricsAddress: probes.address,
      close: () => closeServer(probes.server),
    };
  }
  const metrics = await listen(opts.metricsAddress as string, metricsRoute).catch(async (err: unknown) => {
    await closeServer(probes.server);
    throw err;
  });
  return {
    address: probes.address,
    metricsAddress: metrics.address,
    close: async () => {
      await Promise.all([closeServer(probes.server), closeServer(metrics.server)]);
    },
  };
}

type Routes = Record<string, () => { status: number; type: string; body: string }>;

async function listen(address: string, routes: Routes): Promise<{ server: Server; address: string }> {
  const { host, port } = parseListenAddress(address);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const route = routes[path];
    if (!route) return reply(res, 404, "text/plain; charset=utf-8", "not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return reply(res, 405, "text/plain; charset=utf-8", "method not allowed\n");
    }
    try {
      const { status, type, body } = route();
      reply(res, status, type, body);
    } catch (err) {
      reply(res, 500, "text/plain; charset=utf-8", `${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shownHost = host === undefined ? "" : bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return { server, address: `${shownHost}:${bound.port}` };
}

function reply(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** "host:port", ":port" or "[v6]:port", as controller-runtime's bind-address flags take them. */
export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(address.trim());
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new Error(`invalid listen address "${address}": use host:port, :port or [ipv6]:port`);
  }
  const host = match[1] ?? match[2];
  return { host: host === "" ? undefined : host, port };
}
