import { describe, expect, it } from "vitest";
import { demoStack, readExamples } from "../../../src/dev/demo-stack.ts";
import type { KubeObject } from "../../../src/runtime/kube.ts";

type Obj = KubeObject & { spec?: Record<string, unknown>; stringData?: Record<string, string> };
const find = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind) as Obj[];

describe("the demo stack of dev up", () => {
  it("is the examples in the namespace, adapted to the simulator, with what they reference, and says so", async () => {
    const examples = await readExamples();
    const pristine = JSON.stringify(examples);
    const { objects, adaptations } = demoStack(examples, "demo");
    expect(JSON.stringify(examples)).toBe(pristine); // the examples are not changed in place

    const [cluster] = find(objects, "CockroachCluster");
    expect(cluster?.metadata?.namespace).toBe("demo");
    expect((cluster?.spec?.storage as { storageClassName?: string } | undefined)?.storageClassName).toBe(
      "kwok-volume",
    );
    const priority = (cluster?.spec?.scheduling as { priorityClassName?: string } | undefined)
      ?.priorityClassName;
    expect(priority).toBe("database-critical");
    expect(find(objects, "PriorityClass").map((p) => p.metadata?.name)).toEqual([priority]);
    // Cluster-scoped first, so the pods that need it are admitted.
    expect(objects[0]?.kind).toBe("PriorityClass");

    const [zitadel] = find(objects, "Zitadel");
    const smtp = find(objects, "Secret").find((s) => s.metadata?.name === "zitadel-smtp");
    expect((zitadel?.spec?.configSecretRef as { name: string } | undefined)?.name).toBe("zitadel-smtp");
    expect(smtp?.stringData?.["config.yaml"]).toContain("placeholder");
    expect(smtp?.metadata?.namespace).toBe("demo");
    expect(find(objects, "Secret").map((s) => s.metadata?.name)).toContain("minio-backup");
    // Every object of the examples is there, and every change is one line of the log.
    expect(objects.length).toBe(examples.flatMap((e) => e.objects).length + 3);
    expect(adaptations).toHaveLength(4);
    expect(adaptations[0]).toMatch(/instead of fast-ssd/);
  });

  it("adds nothing when the examples need nothing", () => {
    const stack = demoStack(
      [
        {
          file: "plain.yaml",
          objects: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } } as KubeObject],
        },
      ],
      "demo",
    );
    expect(stack.adaptations).toEqual([]);
    expect(stack.objects).toEqual([
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "demo" } },
    ]);
  });
});
