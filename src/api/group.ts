// The API group and version every kind of this operator is served under.
export const GROUP = "zitadel-operator.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}` as const;

// `kubectl get zitadel-operator` lists every kind at once.
export const CATEGORY = "zitadel-operator";
