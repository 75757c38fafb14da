import { afterEach, describe, expect, it } from "vitest";
import {
  type HealthServer,
  METRICS_CONTENT_TYPE,
  MetricsRegistry,
  OperatorMetrics,
  parseListenAddress,
  startHealthServer,
} from "../../../src/runtime/metrics.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

/**
 * A strict reader of the Prometheus text format (version 0.0.4): HELP and TYPE come before the samples of their
 * family, label values are quoted with \\, \" and \n escapes, values are Go floats. It throws on anything else.
 */
function parseExposition(text: string): Map<string, Family> {
  expect(text.endsWith("\n")).toBe(true);
  const families = new Map<string, Family>();
  const familyOf = (sampleName: string) => {
    for (const suffix of ["", "_bucket", "_sum", "_count"]) {
      const base = suffix ? sampleName.slice(0, -suffix.length) : sampleName;
      if (sampleName.endsWith(suffix) && families.has(base)) {
        const family = families.get(base) as Family;
        if (suffix === "" || family.type === "histogram") return family;
      }
    }
    throw new Error(`sample ${sampleName} has no TYPE line before it`);
  };
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (help) {
      families.set(help[1] as string, { type: "untyped", help: help[2] as string, samples: [] });
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      const family = families.get(type[1] as string);
      if (!family || family.samples.length > 0) throw new Error(`TYPE out of place: ${line}`);
      family.type = type[2] as string;
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? "";
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    let consumed = 0;
    while (consumed < labelText.length) {
      labelPattern.lastIndex = consumed;
      const label = labelPattern.exec(labelText);
      if (!label) throw new Error(`bad labels in ${line}`);
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      consumed = labelPattern.lastIndex;
    }
    const raw = match[3] as string;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : raw === "NaN" ? NaN : Number(raw);
    if (raw !== "NaN" && Number.isNaN(value)) throw new Error(`bad value in ${line}`);
    familyOf(match[1] as string).samples.push({ name: match[1] as string, labels, value });
  }
  return families;
}

function sampleValue(
  families: Map<string, Family>,
  family: string,
  name: string,
  labels: Record<string, string>,
) {
  return families
    .get(family)
    ?.samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
}

describe("the Prometheus registry", () => {
  it("writes counters, gauges and labelled series in the text format", () => {
    const registry = new MetricsRegistry();
    const requests = registry.counter({ name: "t_requests_total", help: "Requests.", labelNames: ["code"] });
    const temperature = registry.gauge({ name: "t_temperature", help: "Temperature\nin C \\ K." });
    requests.inc({ code: "200" });
    requests.inc({ code: "200" }, 2);
    requests.inc({ code: "500" });
    temperature.set({}, -1.5);
    expect(registry.exposition()).toBe(
      [
        "# HELP t_requests_total Requests.",
        "# TYPE t_requests_total counter",
        't_requests_total{code="200"} 3',
        't_requests_total{code="500"} 1',
        "# HELP t_temperature Temperature\\nin C \\\\ K.",
        "# TYPE t_temperature gauge",
        "t_temperature -1.5",
        "",
      ].join("\n"),
    );
  });

  it("escapes label values so any string round-trips", () => {
    const registry = new MetricsRegistry();
    const gauge = registry.gauge({ name: "t_odd", help: "h", labelNames: ["value"] });
    const odd = 'back\\slash "quoted"\nnew line';
    gauge.set({ value: odd }, 1);
    const parsed = parseExposition(registry.exposition());
    expect(parsed.get("t_odd")?.samples[0]?.labels.value).toBe(odd);
  });

  it("writes histograms with cumulative buckets, +Inf, sum and count", () => {
    const registry = new MetricsRegistry();
    const h = registry.histogram({ name: "t_seconds", help: "h", labelNames: ["op"], buckets: [1, 0.1, 10] });
    for (const v of [0.05, 0.1, 0.5, 3, 100]) h.observe({ op: "x" }, v);
    const parsed = parseExposition(registry.exposition());
    const buckets = parsed
      .get("t_seconds")
      ?.samples.filter((s) => s.name === "t_seconds_bucket")
      .map((s) => [s.labels.le, s.value]);
    expect(buckets).toEqual([
      ["0.1", 2],
      ["1", 3],
      ["10", 4],
      ["+Inf", 5],
    ]);
    expect(sampleValue(parsed, "t_seconds", "t_seconds_sum", { op: "x" })).toBeCloseTo(103.65);
    expect(sampleValue(parsed, "t_seconds", "t_seconds_count", { op: "x" })).toBe(5);
  });

  it("drops a removed series", () => {
    const registry = new MetricsRegistry();
    const g = registry.gauge({ name: "t_g", help: "h", labelNames: ["a"] });
    g.set({ a: "1" }, 1);
    g.set({ a: "2" }, 2);
    g.remove({ a: "1" });
    expect(
      parseExposition(registry.exposition())
        .get("t_g")
        ?.samples.map((s) => s.labels.a),
    ).toEqual(["2"]);
  });

  it("refuses bad names, a metric registered twice, missing labels and counters going down", () => {
    const registry = new MetricsRegistry();
    expect(() => registry.counter({ name: "bad-name", help: "h" })).toThrow(/invalid metric name/);
    expect(() => registry.gauge({ name: "t_x", help: "h", labelNames: ["__reserved"] })).toThrow(/label/);
    expect(() => registry.histogram({ name: "t_h", help: "h", labelNames: ["le"], buckets: [1] })).toThrow(
      /le/,
    );
    const c = registry.counter({ name: "t_c_total", help: "h", labelNames: ["a"] });
    expect(() => registry.counter({ name: "t_c_total", help: "h" })).toThrow(/twice/);
    expect(() => c.inc({} as { a: string })).toThrow(/needs label "a"/);
    expect(() => c.inc({ a: "x" }, -1)).toThrow(/only go up/);
  });
});

describe("the operator's metrics", () => {
  it("exposes every family under its documented name and type, and parses", () => {
    const parsed = parseExposition(new OperatorMetrics().registry.exposition());
    expect(Object.fromEntries([...parsed].map(([name, f]) => [name, f.type]))).toMatchObject({
      zitadel_operator_reconcile_total: "counter",
      zitadel_operator_reconcile_errors_total: "counter",
      zitadel_operator_terminal_reconcile_errors_total: "counter",
      zitadel_operator_reconcile_duration_seconds: "histogram",
      zitadel_operator_workqueue_depth: "gauge",
      zitadel_operator_workqueue_queue_duration_seconds: "histogram",
      zitadel_operator_workqueue_retries_total: "counter",
      zitadel_operator_api_requests_total: "counter",
      zitadel_operator_certificate_expiry_timestamp_seconds: "gauge",
      zitadel_operator_leader: "gauge",
      process_cpu_seconds_total: "counter",
      process_resident_memory_bytes: "gauge",
    });
    expect(sampleValue(parsed, "zitadel_operator_leader", "zitadel_operator_leader", {})).toBe(0);
    expect(
      sampleValue(parsed, "process_resident_memory_bytes", "process_resident_memory_bytes", {}),
    ).toBeGreaterThan(0);
  });

  it("counts what the work queue reports, per controller and result", () => {
    const metrics = new OperatorMetrics();
    const hooks = metrics.queueMetrics("cockroachcluster");
    hooks.depth?.(3);
    hooks.queueLatency?.(1500);
    hooks.workDuration?.(20, "success");
    hooks.workDuration?.(40, "requeue");
    hooks.workDuration?.(2000, "error");
    hooks.workDuration?.(5, "terminal_error");
    hooks.retry?.();
    const parsed = parseExposition(metrics.registry.exposition());
    const total = (result: string) =>
      sampleValue(parsed, "zitadel_operator_reconcile_total", "zitadel_operator_reconcile_total", {
        controller: "cockroachcluster",
        result,
      });
    expect([total("success"), total("requeue"), total("error")]).toEqual([1, 1, 2]);
    const c = { controller: "cockroachcluster" };
    const family = (name: string) => sampleValue(parsed, name, name, c);
    expect(family("zitadel_operator_reconcile_errors_total")).toBe(2);
    expect(family("zitadel_operator_terminal_reconcile_errors_total")).toBe(1);
    expect(family("zitadel_operator_workqueue_depth")).toBe(3);
    expect(family("zitadel_operator_workqueue_retries_total")).toBe(1);
    const duration = "zitadel_operator_reconcile_duration_seconds";
    expect(sampleValue(parsed, duration, `${duration}_sum`, c)).toBeCloseTo(2.065);
    expect(sampleValue(parsed, duration, `${duration}_bucket`, { ...c, le: "0.025" })).toBe(2);
    const latency = "zitadel_operator_workqueue_queue_duration_seconds";
    expect(sampleValue(parsed, latency, `${latency}_bucket`, { ...c, le: "1" })).toBe(0);
    expect(sampleValue(parsed, latency, `${latency}_bucket`, { ...c, le: "5" })).toBe(1);
  });

  it("counts API requests by verb and code, and exposes certificate expiry and leadership", () => {
    const metrics = new OperatorMetrics();
    metrics.recordApiRequest("patch", 200);
    metrics.recordApiRequest("PATCH", 200);
    metrics.recordApiRequest("get", 404);
    metrics.recordApiRequest("list", "error");
    const cert = { cluster: "db/main", secret: "db/main-node", certificate: "node" };
    metrics.setCertificateExpiry(cert, new Date("2031-02-03T04:05:06.789Z"));
    metrics.setCertificateExpiry({ ...cert, certificate: "ca" }, new Date("2040-01-01T00:00:00Z"));
    metrics.forgetCertificate({ ...cert, certificate: "ca" });
    metrics.setLeader(true);
    const parsed = parseExposition(metrics.registry.exposition());
    const api = "zitadel_operator_api_requests_total";
    expect(parsed.get(api)?.samples.map((s) => [s.labels.verb, s.labels.code, s.value])).toEqual([
      ["PATCH", "200", 2],
      ["GET", "404", 1],
      ["LIST", "error", 1],
    ]);
    const expiry = "zitadel_operator_certificate_expiry_timestamp_seconds";
    expect(parsed.get(expiry)?.samples).toEqual([
      { name: expiry, labels: cert, value: Date.UTC(2031, 1, 3, 4, 5, 6) / 1000 },
    ]);
    expect(sampleValue(parsed, "zitadel_operator_leader", "zitadel_operator_leader", {})).toBe(1);
  });
});

describe("the health server", () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("answers /healthz always, /readyz by the callback, and /metrics in the text format", async () => {
    let ready = false;
    const metrics = new OperatorMetrics();
    metrics.recordApiRequest("get", 200);
    server = await startHealthServer({
      address: "127.0.0.1:0",
      ready: () => ready,
      registry: metrics.registry,
    });
    const base = `http://${server.address}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(METRICS_CONTENT_TYPE);
    const parsed = parseExposition(await res.text());
    expect(parsed.get("zitadel_operator_api_requests_total")?.samples[0]?.value).toBe(1);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("serves metrics on their own port when asked to", async () => {
    server = await startHealthServer({
      address: "127.0.0.1:0",
      metricsAddress: "127.0.0.1:0",
      ready: () => true,
      registry: new MetricsRegistry(),
    });
    expect(server.metricsAddress).not.toBe(server.address);
    expect((await fetch(`http://${server.metricsAddress}/metrics`)).status).toBe(200);
    expect((await fetch(`http://${server.metricsAddress}/healthz`)).status).toBe(404);
    expect((await fetch(`http://${server.address}/metrics`)).status).toBe(404);
  });

  it("parses the listen addresses controller-runtime's flags take", () => {
    expect(parseListenAddress(":8081")).toEqual({ host: undefined, port: 8081 });
    expect(parseListenAddress("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseListenAddress("[::1]:9090")).toEqual({ host: "::1", port: 9090 });
    expect(() => parseListenAddress("8081")).toThrow(/invalid listen address/);
    expect(() => parseListenAddress("host:99999")).toThrow(/invalid listen address/);
  });
});
