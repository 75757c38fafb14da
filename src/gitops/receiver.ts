// A webhook receiver for Git pushes: POST /hook/<namespace>/<gitsource> with the body signed by HMAC-SHA256
// (GitHub's `X-Hub-Signature-256: sha256=<hex>`, also accepted as `X-Signature`). A request whose signature
// verifies only sets the GitSource's requested-at annotation to the time it arrived; the controller does the rest,
// exactly as for a periodic sync. The body is never parsed or trusted beyond its signature, so a forged or
// replayed request can at worst cause one extra fetch. Modelled on Flux's notification-controller Receiver.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { GROUP } from "../api/group.ts";
import { isNotFound, type KubeClient, type ResourceType } from "../runtime/kube.ts";
import type { Logger } from "../runtime/log.ts";

/** The annotation the GitSource controller watches (zitadel-operator.dev/requested-at). */
export const REQUESTED_AT = `${GROUP}/requested-at`;
export const RECEIVER_FIELD_MANAGER = "zitadel-operator-receiver";
const MAX_BODY_BYTES = 1024 * 1024;
const GITSOURCE: ResourceType = {
  apiVersion: `${GROUP}/v1alpha1`,
  kind: "GitSource",
  plural: "gitsources",
  namespaced: true,
};

/** "sha256=<hex>" of `body` under `secret`: what a sender puts in the signature header. */
export function sign(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Whether `header` is the HMAC-SHA256 of `body` under `secret`, compared in constant time. */
export function verifySignature(body: Buffer, header: string | undefined, secret: string): boolean {
  if (header === undefined || secret === "") return false;
  const expected = Buffer.from(sign(body, secret));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface ReceiverOptions {
  client: KubeClient;
  /** The shared HMAC secret. */
  secret: string;
  log: Logger;
  /** Namespaces whose GitSources may be triggered; all when empty. */
  namespaces?: string[];
  now?: () => Date;
}

/** The request handler, for a server of one's own or startReceiver. */
export function receiverHandler(opts: ReceiverOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const now = opts.now ?? (() => new Date());
  return (req, res) => {
    const reply = (code: number, text: string) => {
      res.writeHead(code, { "content-type": "text/plain" }).end(`${text}\n`);
    };
    const match = /^\/hook\/([a-z0-9-]{1,63})\/([a-z0-9-]{1,63})$/.exec(req.url ?? "");
    if (req.method !== "POST" || match === null) return reply(404, "not found");
    const [, namespace = "", name = ""] = match;
    if (opts.namespaces?.length && !opts.namespaces.includes(namespace)) return reply(404, "not found");
    readLimited(req, MAX_BODY_BYTES)
      .then(async (body) => {
        if (body === undefined) return reply(413, "body too large");
        const header = req.headers["x-hub-signature-256"] ?? req.headers["x-signature"];
        if (!verifySignature(body, Array.isArray(header) ? header[0] : header, opts.secret)) {
          opts.log.warn("webhook signature does not verify", { namespace, name });
          return reply(401, "signature does not verify");
        }
        const found = await opts.client.get(GITSOURCE, namespace, name);
        if (found === undefined) return reply(404, "no such GitSource");
        await opts.client.apply(
          {
            apiVersion: GITSOURCE.apiVersion,
            kind: GITSOURCE.kind,
            metadata: { name, namespace, annotations: { [REQUESTED_AT]: now().toISOString() } },
          },
          { fieldManager: RECEIVER_FIELD_MANAGER },
        );
        opts.log.info("webhook requested a sync", { namespace, name });
        reply(202, "sync requested");
      })
      .catch((err: unknown) => {
        if (isNotFound(err)) return reply(404, "no such GitSource");
        opts.log.error("webhook failed", { error: err instanceof Error ? err.message : String(err) });
        reply(500, "could not request a sync");
      });
  };
}

/** Listens on host:port ("127.0.0.1:0" picks a free port); resolves with the server and its address. */
export async function startReceiver(
  address: string,
  opts: ReceiverOptions,
): Promise<{ server: Server; url: string }> {
  const [host = "0.0.0.0", port = "0"] = address.split(/:(?=[0-9]+$)/);
  const server = createServer(receiverHandler(opts));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(port), host, resolve);
  });
  const bound = server.address();
  const realPort = typeof bound === "object" && bound !== null ? bound.port : Number(port);
  return { server, url: `http://${host}:${realPort}` };
}

function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) over = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
