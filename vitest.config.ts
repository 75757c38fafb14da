import { defineConfig } from "vitest/config";

// Two projects: `unit` is pure and fast (no I/O beyond temp files and openssl); `integration` talks to real
// things (a kube-apiserver built by the project, PostgreSQL on 127.0.0.1:5432, git) and runs its files one at a
// time so control planes do not fight over the machine's two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Some unit tests start the CLI or openssl as a process: on a loaded two-core machine that alone can
          // pass vitest's 5 s default, and how long they take is not what they test.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
