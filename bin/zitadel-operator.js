#!/usr/bin/env node
// Node 24 runs our TypeScript directly (type stripping): no build step between an edit and a run.
// npm puts the pinned Node (the `node` devDependency) first on PATH for `npx` and `npm run`.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  console.error(
    `zitadel-operator needs Node.js 24 or newer, this is ${process.version}. ` +
      "Run it through npx (npx zitadel-operator ...) after npm ci: that uses the Node 24 the project pins.",
  );
  process.exit(1);
}
await import("../src/cli/main.ts");
