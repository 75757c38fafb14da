// fetchRevision over real SSH: an sshd of the test's own on a loopback port, a deploy key and known_hosts as a
// Secret would hold them. Host keys are checked strictly; a wrong known_hosts fails the fetch.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchRevision } from "../../src/gitops/fetch.ts";
import { TestRepo } from "../fixtures/gitops/git-repo.ts";
import { eventually } from "../support/eventually.ts";

const run = promisify(execFile);
const SSHD = "/usr/sbin/sshd";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

describe("fetchRevision over SSH (sshd on loopback)", () => {
  let dir = "";
  let sshd: ChildProcess | undefined;
  let port = 0;
  let repo: TestRepo;
  let head = "";
  let identity = "";
  let knownHosts = "";
  let wrongKnownHosts = "";

  beforeAll(async () => {
    await run(SSHD, ["-V"]).catch((err: { stderr?: string; code?: string }) => {
      // sshd -V prints its version to stderr and exits non-zero; only a missing binary is a problem.
      if (err.code === "ENOENT") throw new Error("this test needs sshd: apt-get install openssh-server");
    });
    dir = await mkdtemp(join(tmpdir(), "gitops-ssh-"));
    repo = await TestRepo.create(dir);
    head = await repo.commit("over ssh", { "deploy/a.yaml": "a: 1\n" });

    const keygen = (file: string) =>
      run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, file)]);
    await Promise.all([keygen("host"), keygen("other-host"), keygen("client")]);
    identity = await readFile(join(dir, "client"), "utf8");
    await writeFile(join(dir, "authorized_keys"), await readFile(join(dir, "client.pub")), { mode: 0o600 });
    port = await freePort();
    const hostKey = (await readFile(join(dir, "host.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
    const otherKey = (await readFile(join(dir, "other-host.pub"), "utf8")).split(" ").slice(0, 2).join(" ");
    knownHosts = `[127.0.0.1]:${port} ${hostKey}\n`;
    wrongKnownHosts = `[127.0.0.1]:${port} ${otherKey}\n`;

    await writeFile(
      join(dir, "sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${join(dir, "host")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        `AllowUsers ${userInfo().username}`,
      ].join("\n"),
    );
    // sshd's privilege separation directory; the Debian package creates it only when its service starts.
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    sshd = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: "ignore" });
    await eventually(
      () =>
        new Promise<void>((resolve, reject) => {
          const probe = createServer();
          probe.once("error", () => resolve()); // the port is taken: sshd listens
          probe.listen(port, "127.0.0.1", () =>
            probe.close(() => reject(new Error("sshd is not listening yet"))),
          );
        }),
      { timeoutMs: 10_000 },
    );
  });

  afterAll(async () => {
    sshd?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  const url = () => `ssh://${userInfo().username}@127.0.0.1:${port}${repo.dir}`;

  it("fetches with the deploy key when the host key is in known_hosts, and leaves no key file behind", async () => {
    const before = (await readdir(tmpdir())).filter((n) => n.startsWith("zitadel-operator-git-"));
    const fetched = await fetchRevision({
      url: url(),
      ref: { branch: "main" },
      cacheDir: join(dir, "cache"),
      auth: { kind: "ssh", identity, knownHosts },
    });
    expect(fetched.revision).toBe(head);
    expect(await readFile(join(fetched.worktreeDir, "deploy/a.yaml"), "utf8")).toBe("a: 1\n");
    const after = (await readdir(tmpdir())).filter((n) => n.startsWith("zitadel-operator-git-"));
    expect(after).toEqual(before);
    // The remote stored in the cache is the plain URL: no key, no command.
    const config = await readFile(
      join(dir, "cache", (await readdir(join(dir, "cache")))[0] ?? "", "git", "config"),
      "utf8",
    );
    expect(config).toContain(url());
    expect(config).not.toContain("PRIVATE KEY");
  });

  it("refuses a server whose host key is not the one in known_hosts", async () => {
    const failed = fetchRevision({
      url: url(),
      ref: { branch: "main" },
      cacheDir: join(dir, "cache-wrong"),
      auth: { kind: "ssh", identity, knownHosts: wrongKnownHosts },
    });
    await expect(failed).rejects.toMatchObject({ reason: "FetchFailed" });
    await expect(failed).rejects.toThrow(
      /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/,
    );
    const message = await failed.catch((err: Error) => err.message);
    expect(message).not.toContain("PRIVATE KEY");
  });
});
