/**
 * A failure the user can act on, ready to become a condition: `reason` is a CamelCase condition reason and
 * `message` names the field or the cause. Messages are built from names, fingerprints and dates only, never from
 * Secret contents, so they cannot carry key material into status, Events or logs.
 */
export interface PkiProblem {
  readonly reason: string;
  readonly message: string;
}
