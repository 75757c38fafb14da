import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ControlPlaneBuildError,
  ensureControlPlaneBinaries,
  explainBuildFailure,
} from "../../../src/controlplane/binaries.ts";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("building the control plane", () => {
  it("says how to get Go when there is none", async () => {
    process.env.ZITADEL_OPERATOR_GO = "/nonexistent/bin/go";
    const err = await ensureControlPlaneBinaries().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlPlaneBuildError);
    expect((err as Error).message).toMatch(/Go was not found.*install Go/s);
  });

  it("says the module proxy is unreachable when modules cannot be downloaded", async () => {
    // A real go build with an empty module cache and downloads switched off.
    const scratch = await mkdtemp(join(tmpdir(), "zo-build-"));
    try {
      process.env.ZITADEL_OPERATOR_CACHE = join(scratch, "cache");
      process.env.GOMODCACHE = join(scratch, "mod");
      process.env.GOPROXY = "off";
      const err = await ensureControlPlaneBinaries().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ControlPlaneBuildError);
      expect((err as Error).message).toMatch(/could not download the control plane's Go modules/);
      expect((err as Error).message).toMatch(/GOPROXY/);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("explains a full disk and an old toolchain", () => {
    expect(explainBuildFailure("/m", "write /x: no space left on device")).toMatch(/ran out of disk space/);
    expect(explainBuildFailure("/m", "go: go.mod requires go >= 1.26.0 (running go 1.22.1)")).toMatch(
      /too old/,
    );
    expect(explainBuildFailure("/m", "some compile error")).toMatch(/failed:\nsome compile error/);
  });
});
