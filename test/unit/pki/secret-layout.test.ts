import { describe, expect, it } from "vitest";
import {
  caSecretName,
  certsDirItems,
  clientSecretName,
  KEY_FILE_MODE,
  MOUNTED_KEY_FILE_MODE,
  nodeSecretName,
} from "../../../src/pki/secret-layout.ts";

describe("secret layout", () => {
  it("names one Secret for the CA, one for the nodes and one per SQL user", () => {
    expect(caSecretName("crdb")).toBe("crdb-ca");
    expect(nodeSecretName("crdb")).toBe("crdb-node-certs");
    expect(clientSecretName("crdb", "root")).toBe("crdb-client-root");
    expect(clientSecretName("crdb", "app.reader")).toBe("crdb-client-app.reader");
  });

  it("keeps Secret names valid and distinct for user names Kubernetes does not allow", () => {
    const underscore = clientSecretName("crdb", "app_user");
    const dash = clientSecretName("crdb", "app-user");
    expect(underscore).toMatch(/^crdb-client-app-user-[0-9a-f]{6}$/);
    expect(dash).toBe("crdb-client-app-user");
    expect(underscore).not.toBe(dash);
  });

  it("mounts only the files CockroachDB reads, keys readable by the owner (and root-owned group) only", () => {
    expect(certsDirItems({ node: true }, MOUNTED_KEY_FILE_MODE)).toEqual([
      { key: "ca.crt", path: "ca.crt", mode: 0o444 },
      { key: "node.crt", path: "node.crt", mode: 0o444 },
      { key: "node.key", path: "node.key", mode: 0o440 },
    ]);
    expect(certsDirItems({ user: "root" }, KEY_FILE_MODE)[2]).toEqual({
      key: "client.root.key",
      path: "client.root.key",
      mode: 0o400,
    });
    // CockroachDB's limits: 0700 for files of the process user, 0740 for root-owned files of its group.
    expect(KEY_FILE_MODE & 0o077).toBe(0);
    expect(MOUNTED_KEY_FILE_MODE & ~0o740).toBe(0);
  });
});
