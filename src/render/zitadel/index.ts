// Rendering a Zitadel: renderZitadel (render.ts) and the builders of each object. Pure, no I/O.
// The design notes (credentials, least privilege, migrations) are in README.md beside this file.
export * from "./config.ts";
export type * from "./context.ts";
export * from "./exposure.ts";
export * from "./login.ts";
export { ANNOTATION, COMPONENT, LABEL, names, podSelectorString, selectorLabels } from "./meta.ts";
export * from "./migration.ts";
export * from "./pod.ts";
export * from "./preview.ts";
export * from "./render.ts";
export * from "./secrets.ts";
export * from "./zitadel.ts";
