import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseRemoteKubeconfig } from "../../../src/clusters/kubeconfig.ts";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.secret-token-value";
const SOURCE = "key kubeconfig of Secret eu";

function kubeconfig(cluster: Record<string, unknown> = {}, user: Record<string, unknown> = { token: TOKEN }) {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "eu",
        cluster: { server: "https://eu.example.com:6443", "certificate-authority-data": "Q0E=", ...cluster },
      },
    ],
    users: [{ name: "op", user }],
    contexts: [{ name: "eu", context: { cluster: "eu", user: "op" } }],
    "current-context": "eu",
  });
}

describe("a RemoteCluster's kubeconfig", () => {
  it("takes an inline token or client certificate, and builds a client config of that context only", () => {
    const parsed = parseRemoteKubeconfig(kubeconfig(), SOURCE);
    if (!parsed.ok) throw new Error(parsed.message);
    expect(parsed.server).toBe("https://eu.example.com:6443");
    expect(parsed.context).toBe("eu");
    expect(parsed.kubeConfig.getCurrentUser()?.token).toBe(TOKEN);
    expect(parsed.kubeConfig.getCurrentCluster()?.caData).toBe("Q0E=");
    expect(parsed.kubeConfig.getCurrentCluster()?.skipTLSVerify).toBe(false);
    const cert = parseRemoteKubeconfig(
      kubeconfig({}, { "client-certificate-data": "Y2VydA==", "client-key-data": "a2V5" }),
      SOURCE,
    );
    expect(cert.ok).toBe(true);
  });

  it.each([
    ["users[op].exec", { exec: { command: "touch", args: ["/tmp/owned"] } }, {}],
    ["users[op].auth-provider", { "auth-provider": { name: "gcp" } }, {}],
    ["users[op].tokenFile", { tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token" }, {}],
    ["users[op].client-key", { "client-certificate-data": "Yw==", "client-key": "/etc/key" }, {}],
    ["users[op].password", { token: TOKEN, password: "hunter2" }, {}],
    ["clusters[eu].certificate-authority", { token: TOKEN }, { "certificate-authority": "/etc/ca.crt" }],
    ["clusters[eu].insecure-skip-tls-verify", { token: TOKEN }, { "insecure-skip-tls-verify": true }],
    ["clusters[eu].proxy-url", { token: TOKEN }, { "proxy-url": "http://proxy:3128" }],
  ])("refuses %s, naming the field and never a value", (field, user, cluster) => {
    const parsed = parseRemoteKubeconfig(kubeconfig(cluster, user), SOURCE);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reason).toBe("KubeconfigRefused");
    expect(parsed.message).toContain(`${SOURCE}: ${field} is refused`);
    for (const value of [TOKEN, "hunter2", "/tmp/owned", "/etc/key", "/etc/ca.crt"])
      expect(parsed.message).not.toContain(value);
  });

  it.each([
    ["not YAML", `clusters: [\n  token: ${TOKEN}\n  - x`, /is not YAML \(line \d+\)$/],
    ["not a map", "- a\n- b", /is not a kubeconfig$/],
    ["no context", stringify({ clusters: [], users: [], contexts: [] }), /has no current-context/],
    [
      "a plain http server",
      kubeconfig({ server: "http://eu.example.com" }),
      /: clusters\[eu\]\.server must be an https:\/\/ URL$/,
    ],
    [
      "no credentials",
      kubeconfig({}, { token: "" }),
      /users\[op\] needs a token, or client-certificate-data/,
    ],
  ])("says what is wrong with %s", (_, text, message) => {
    const parsed = parseRemoteKubeconfig(text, SOURCE);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reason).toBe("KubeconfigInvalid");
    expect(parsed.message).toMatch(message);
    expect(parsed.message.startsWith(SOURCE)).toBe(true);
    expect(parsed.message).not.toContain(TOKEN);
  });

  it("defaults to the only context when current-context is unset, and names a dangling reference", () => {
    const doc = (context: Record<string, unknown>, current?: string) =>
      stringify({
        clusters: [{ name: "eu", cluster: { server: "https://eu" } }],
        users: [{ name: "op", user: { token: TOKEN } }],
        contexts: [{ name: "only", context }],
        ...(current ? { "current-context": current } : {}),
      });
    expect(parseRemoteKubeconfig(doc({ cluster: "eu", user: "op" }), SOURCE).ok).toBe(true);
    const dangling = parseRemoteKubeconfig(doc({ cluster: "us", user: "op" }), SOURCE);
    expect(dangling.ok ? "" : dangling.message).toBe(`${SOURCE} has no cluster "us" (context "only")`);
    const missing = parseRemoteKubeconfig(doc({ cluster: "eu", user: "op" }, "other"), SOURCE);
    expect(missing.ok ? "" : missing.message).toBe(`${SOURCE} has no context "other" (current-context)`);
  });
});
