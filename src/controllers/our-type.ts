// The ResourceType of one of our kinds, for a controller's `for`, `owns` and `watches`.
import type { KindName } from "../api/index.ts";
import { API_VERSION } from "../api/index.ts";
import type { ResourceType } from "../runtime/kube.ts";

export function ourType(kind: KindName, plural: string): ResourceType {
  return { apiVersion: API_VERSION, kind, plural, namespaced: true };
}
