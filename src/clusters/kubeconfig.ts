// A RemoteCluster's kubeconfig, read from a Secret that anyone allowed to write Secrets in that namespace can
// fill. So it is held to what cannot reach beyond the connection it describes: credentials inline (a token, or a
// client certificate and key), the server's CA inline, https. Refused, each with the field named:
// - `exec` and `auth-provider`: they run a command or a plugin inside the operator's pod;
// - file references (`tokenFile`, `client-certificate`, `client-key`, `certificate-authority`): they would read the
//   operator's own files, such as its service account token, and send them to the server named here;
// - `insecure-skip-tls-verify`: the token would go to whoever answers;
// - `username`/`password` (Kubernetes has no basic authentication since 1.19) and `proxy-url` (not supported).
// Messages name fields and never carry a value.
import { KubeConfig } from "@kubernetes/client-node";
import { parse } from "yaml";

export type KubeconfigResult =
  | { readonly ok: true; readonly kubeConfig: KubeConfig; readonly server: string; readonly context: string }
  | {
      readonly ok: false;
      readonly reason: "KubeconfigInvalid" | "KubeconfigRefused";
      readonly message: string;
    };

type Named<T> = { name?: unknown } & T;
type Entry = Record<string, unknown>;

const REFUSED_USER_FIELDS: Record<string, string> = {
  exec: "it runs a command in the operator's pod",
  "auth-provider": "it runs an authentication plugin in the operator's pod",
  tokenFile: "it reads a file of the operator's pod; use token",
  "client-certificate": "it reads a file of the operator's pod; use client-certificate-data",
  "client-key": "it reads a file of the operator's pod; use client-key-data",
  username: "basic authentication does not exist in Kubernetes since 1.19",
  password: "basic authentication does not exist in Kubernetes since 1.19",
};
const REFUSED_CLUSTER_FIELDS: Record<string, string> = {
  "certificate-authority": "it reads a file of the operator's pod; use certificate-authority-data",
  "insecure-skip-tls-verify": "the credentials would go to whoever answers; give certificate-authority-data",
  "proxy-url": "proxies are not supported",
};

/** Parses and checks a kubeconfig; `source` names where it came from ("key kubeconfig of Secret x"). */
export function parseRemoteKubeconfig(text: string, source: string): KubeconfigResult {
  const invalid = (message: string): KubeconfigResult => ({
    ok: false,
    reason: "KubeconfigInvalid",
    message: message.startsWith(":") ? `${source}${message}` : `${source} ${message}`,
  });
  const refused = (field: string, why: string): KubeconfigResult => ({
    ok: false,
    reason: "KubeconfigRefused",
    message: `${source}: ${field} is refused: ${why}`,
  });
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    // The parser's message quotes the offending line, which may hold a credential: give the position only.
    const line = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    return invalid(`is not YAML${line === undefined ? "" : ` (line ${line})`}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return invalid("is not a kubeconfig");
  const config = doc as Entry;
  const list = (key: string) => (Array.isArray(config[key]) ? (config[key] as Named<Entry>[]) : []);
  const contexts = list("contexts");
  const contextName =
    typeof config["current-context"] === "string" && config["current-context"] !== ""
      ? config["current-context"]
      : contexts.length === 1 && typeof contexts[0]?.name === "string"
        ? contexts[0].name
        : undefined;
  if (contextName === undefined)
    return invalid("has no current-context (and more or fewer than one context to default to)");
  const context = contexts.find((c) => c.name === contextName)?.context as Entry | undefined;
  if (context === undefined) return invalid(`has no context "${contextName}" (current-context)`);
  const clusterEntry = list("clusters").find((c) => c.name === context.cluster)?.cluster as Entry | undefined;
  if (clusterEntry === undefined)
    return invalid(`has no cluster "${String(context.cluster)}" (context "${contextName}")`);
  const userEntry = list("users").find((u) => u.name === context.user)?.user as Entry | undefined;
  if (userEntry === undefined)
    return invalid(`has no user "${String(context.user)}" (context "${contextName}")`);

  for (const [field, why] of Object.entries(REFUSED_CLUSTER_FIELDS)) {
    if (clusterEntry[field] !== undefined && clusterEntry[field] !== false)
      return refused(`clusters[${String(context.cluster)}].${field}`, why);
  }
  for (const [field, why] of Object.entries(REFUSED_USER_FIELDS)) {
    if (userEntry[field] !== undefined) return refused(`users[${String(context.user)}].${field}`, why);
  }
  const server = clusterEntry.server;
  if (typeof server !== "string" || !server.startsWith("https://"))
    return invalid(`: clusters[${String(context.cluster)}].server must be an https:// URL`);
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const token = str(userEntry.token);
  const certData = str(userEntry["client-certificate-data"]);
  const keyData = str(userEntry["client-key-data"]);
  if (token === undefined && (certData === undefined || keyData === undefined))
    return invalid(
      `: users[${String(context.user)}] needs a token, or client-certificate-data with client-key-data`,
    );

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: "remote",
        server,
        caData: str(clusterEntry["certificate-authority-data"]),
        tlsServerName: str(clusterEntry["tls-server-name"]),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: "remote", token, certData, keyData }],
    contexts: [{ name: "remote", cluster: "remote", user: "remote" }],
    currentContext: "remote",
  });
  return { ok: true, kubeConfig, server, context: contextName };
}
