// `npm run bench`: runs every bench/*.bench.ts module and prints its figures. Each module exports
// `run(): Promise<Figure[]>`. Figures are printed, never asserted: speed targets are read by people.
import { readdir } from "node:fs/promises";
import { join } from "node:path";

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = (await readdir(dir)).filter((f) => f.endsWith(".bench.ts")).sort();
for (const file of files) {
  const suite = file.replace(/\.bench\.ts$/, "");
  if (only.length > 0 && !only.includes(suite)) continue;
  const mod = (await import(join(dir, file))) as { run: () => Promise<Figure[]> };
  for (const f of await mod.run()) {
    console.log(`${suite}\t${f.name}\t${Number.isInteger(f.value) ? f.value : f.value.toFixed(3)} ${f.unit}`);
  }
}
