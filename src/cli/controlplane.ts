import type { Command } from "commander";
import { cacheRoot, ensureControlPlaneBinaries } from "../controlplane/binaries.ts";
import { LocalControlPlane } from "../controlplane/controlplane.ts";

export function registerControlPlaneCommand(program: Command): void {
  const cp = program
    .command("controlplane")
    .description(
      "the local Kubernetes control plane used by the tests and by 'dev' (built from source with Go)",
    );

  cp.command("build")
    .description(
      "build (or find in the cache) kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok",
    )
    .action(async () => {
      const started = Date.now();
      const bins = await ensureControlPlaneBinaries({ log: (l) => console.log(l) });
      const seconds = (Date.now() - started) / 1000;
      console.log(`control plane binaries ready in ${seconds.toFixed(1)}s (cache: ${cacheRoot()})`);
      for (const [name, path] of Object.entries(bins)) console.log(`  ${name.padEnd(22)} ${path}`);
    });

  cp.command("start")
    .description("start a control plane in the foreground and measure how long it takes; Ctrl-C stops it")
    .option("--nodes <n>", "number of simulated nodes", "3")
    .option("--once", "stop again as soon as it is ready (for timing)")
    .action(async (opts: { nodes: string; once?: boolean }) => {
      const started = Date.now();
      const plane = await LocalControlPlane.start({ nodes: Number(opts.nodes), log: (l) => console.log(l) });
      console.log(
        `ready in ${((Date.now() - started) / 1000).toFixed(1)}s; kubeconfig: ${plane.kubeconfigPath}`,
      );
      if (opts.once) return plane.stop();
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await plane.stop();
    });
}
