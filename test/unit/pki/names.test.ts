import { describe, expect, it } from "vitest";
import { invalidNames, nodeSANs, sameNames } from "../../../src/pki/names.ts";

const local = {
  namespace: "db",
  publicService: "crdb-public",
  headlessService: "crdb",
  clusterDomain: "cluster.local",
};

describe("nodeSANs", () => {
  it("names the public Service and the pods under the headless Service at every level, plus loopback", () => {
    expect(nodeSANs({ services: [local] })).toEqual({
      dnsNames: [
        "localhost",
        "crdb-public",
        "crdb-public.db",
        "crdb-public.db.svc",
        "crdb-public.db.svc.cluster.local",
        "*.crdb",
        "*.crdb.db",
        "*.crdb.db.svc",
        "*.crdb.db.svc.cluster.local",
      ],
      ipAddresses: ["127.0.0.1", "::1"],
    });
  });

  it("adds every cross-cluster region and extra name, IPs separated and canonical, without duplicates", () => {
    const remote = {
      namespace: "db",
      publicService: "crdb-public",
      headlessService: "crdb",
      clusterDomain: "eu.example",
    };
    const names = nodeSANs({
      services: [local, remote],
      extraNames: ["SQL.Example.com", "10.0.0.7", "fd00:0:0::1", "crdb-public", "*.crdb.db.svc.eu.example"],
    });
    expect(names.dnsNames).toContain("crdb-public.db.svc.eu.example");
    expect(names.dnsNames).toContain("*.crdb.db.svc.eu.example");
    expect(names.dnsNames).toContain("sql.example.com");
    expect(names.ipAddresses).toEqual(["127.0.0.1", "::1", "10.0.0.7", "fd00::1"]);
    expect(new Set(names.dnsNames).size).toBe(names.dnsNames.length);
  });
});

describe("invalidNames", () => {
  it("accepts DNS names, wildcards and IPs and returns the rest", () => {
    expect(
      invalidNames(["a.b", "*.a.b", "10.1.2.3", "::1", "under_score.x", "-bad.x", "a..b", "*", "ok-1.x"]),
    ).toEqual(["under_score.x", "-bad.x", "a..b", "*"]);
  });
});

describe("sameNames", () => {
  it("ignores order, case and IP spelling", () => {
    expect(
      sameNames(
        { dnsNames: ["A.example", "b.example"], ipAddresses: ["fd00:0::1"] },
        { dnsNames: ["b.example", "a.example"], ipAddresses: ["fd00::1"] },
      ),
    ).toBe(true);
    expect(sameNames({ dnsNames: ["a"], ipAddresses: [] }, { dnsNames: ["a", "b"], ipAddresses: [] })).toBe(
      false,
    );
  });
});
