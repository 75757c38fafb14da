// fetchRevision over real smart HTTP: `git http-backend` behind a small loopback server that demands a token or
// basic auth, as a Git host would. Credentials must work, and never land in the cache or in errors.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchRevision } from "../../src/gitops/fetch.ts";
import { TestRepo } from "../fixtures/gitops/git-repo.ts";

const TOKEN = "ghp_loopbackTokenNotForLogs";
const USER = "deploy";
const PASSWORD = "basic-password-not-for-logs";

// Runs git http-backend as a CGI program for one request.
function serveGit(projectRoot: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const cgi = spawn("git", ["http-backend"], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      REQUEST_METHOD: req.method ?? "GET",
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_ADDR: "127.0.0.1",
      ...(req.headers["content-encoding"]
        ? { HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"]) }
        : {}),
      ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
    },
  });
  req.pipe(cgi.stdin);
  const chunks: Buffer[] = [];
  cgi.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  cgi.on("close", () => {
    const out = Buffer.concat(chunks);
    const split = out.indexOf("\r\n\r\n");
    const head = out.subarray(0, split).toString("utf8");
    let status = 200;
    for (const line of head.split("\r\n")) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else if (name !== "") res.setHeader(name, value);
    }
    res.writeHead(status);
    res.end(out.subarray(split + 4));
  });
}

describe("fetchRevision over HTTP with credentials (git http-backend on loopback)", () => {
  let dir = "";
  let server: Server;
  let base = "";
  let repo: TestRepo;
  let head = "";
  const seen: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "gitops-http-"));
    repo = await TestRepo.create(dir);
    head = await repo.commit("over http", { "deploy/a.yaml": "a: 1\n" });
    const accepted = new Set([
      `Bearer ${TOKEN}`,
      `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`,
    ]);
    server = createServer((req, res) => {
      const authorization = req.headers.authorization ?? "";
      seen.push(authorization);
      if (!accepted.has(authorization)) {
        res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' });
        res.end();
        return;
      }
      serveGit(dirname(repo.dir), req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const url = () => `${base}/${basename(repo.dir)}`;

  it("fetches with a bearer token sent as a header, never stored in the cache", async () => {
    const cacheDir = join(dir, "cache-token");
    const fetched = await fetchRevision({
      url: url(),
      ref: { branch: "main" },
      cacheDir,
      auth: { kind: "https", bearerToken: TOKEN },
    });
    expect(fetched.revision).toBe(head);
    expect(seen).toContain(`Bearer ${TOKEN}`);
    const config = await readFile(
      join(cacheDir, (await readdir(cacheDir))[0] ?? "", "git", "config"),
      "utf8",
    );
    expect(config).toContain(url());
    expect(config).not.toContain(TOKEN);
  });

  it("fetches with basic auth", async () => {
    const fetched = await fetchRevision({
      url: url(),
      ref: { branch: "main" },
      cacheDir: join(dir, "cache-basic"),
      auth: { kind: "https", username: USER, password: PASSWORD },
    });
    expect(fetched.revision).toBe(head);
  });

  it("reports refused credentials without showing them", async () => {
    const wrong = `${TOKEN}-revoked`;
    const failed = fetchRevision({
      url: url(),
      ref: { branch: "main" },
      cacheDir: join(dir, "cache-wrong"),
      auth: { kind: "https", bearerToken: wrong },
    });
    await expect(failed).rejects.toMatchObject({ reason: "FetchFailed" });
    const message = await failed.catch((err: Error) => err.message);
    expect(message).toMatch(/401|Authentication failed|could not read Username/i);
    expect(message).not.toContain(wrong);
    expect(seen).toContain(`Bearer ${wrong}`);
  });
});
