import { describe, expect, it } from "vitest";
import { parseResourceAs } from "../../../../src/api/index.ts";
import type { Zitadel } from "../../../../src/api/zitadel.ts";
import { BootstrapMemory } from "../../../../src/controllers/zitadel/database.ts";
import { downgradeRefused } from "../../../../src/controllers/zitadel/migration.ts";
import { generatePassword } from "../../../../src/controllers/zitadel/secrets.ts";
import { StatusBuilder } from "../../../../src/controllers/zitadel/status.ts";

function zitadel(): Zitadel {
  const parsed = parseResourceAs("Zitadel", {
    apiVersion: "zitadel-operator.dev/v1alpha1",
    kind: "Zitadel",
    metadata: { name: "zt", namespace: "ns", generation: 3 },
    spec: {
      version: "v4.1.0",
      externalDomain: "auth.example.com",
      database: { postgres: { host: "db", adminSecretRef: { name: "admin" } } },
    },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.resource;
}

describe("generatePassword", () => {
  it("gives 32 letters and digits, different every time", () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(generatePassword()).not.toBe(a);
  });

  it("uses every character of its alphabet about equally often", () => {
    const counts = new Map<string, number>();
    for (const c of generatePassword(62_000)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
  });
});

describe("BootstrapMemory", () => {
  it("skips a bootstrap only for the same inputs, and only for ten minutes", () => {
    const memory = new BootstrapMemory();
    memory.remember("uid", "fp", 0);
    expect(memory.isFresh("uid", "fp", 60_000)).toBe(true);
    expect(memory.isFresh("uid", "other", 60_000)).toBe(false);
    expect(memory.isFresh("uid", "fp", 11 * 60_000)).toBe(false);
    memory.forget("uid");
    expect(memory.isFresh("uid", "fp", 1)).toBe(false);
  });
});

describe("StatusBuilder", () => {
  it("keeps what earlier reconciles recorded and sets conditions for this generation", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const status = new StatusBuilder(zitadel(), { migratedVersion: "v4.0.0", currentVersion: "v4.0.0" }, now)
      .set("Migrated", "False", "SetupRunning", "Job zt-setup-… is running")
      .notReady("SetupRunning", "Job zt-setup-… is running")
      .build();
    expect(status).toMatchObject({
      observedGeneration: 3,
      migratedVersion: "v4.0.0",
      currentVersion: "v4.0.0",
      url: "https://auth.example.com",
      selector:
        "app.kubernetes.io/name=zitadel,app.kubernetes.io/instance=zt,app.kubernetes.io/component=api",
    });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ["Migrated", "False", "SetupRunning", 3],
      ["Ready", "False", "SetupRunning", 3],
    ]);
  });
});

describe("downgradeRefused", () => {
  const at = (version: string) => ({ ...zitadel(), spec: { ...zitadel().spec, version } });
  it("refuses a version older than the migrated one and allows the same or newer", () => {
    expect(downgradeRefused(at("v4.1.0"), "v4.2.0")?.reason).toBe("DowngradeRefused");
    expect(downgradeRefused(at("v3.9.9"), "v4.0.0")?.reason).toBe("DowngradeRefused");
    expect(downgradeRefused(at("v4.2.0"), "v4.2.0")).toBeUndefined();
    expect(downgradeRefused(at("v4.10.0"), "v4.9.1")).toBeUndefined();
    expect(downgradeRefused(at("v4.1.0"), undefined)).toBeUndefined();
  });
});
