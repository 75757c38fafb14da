import { z } from "zod";
import { objectName } from "./formats.ts";

/** A reference by name to an object of `noun` (e.g. "Secret") in the same namespace. */
export function localRef(noun: string) {
  return z.strictObject({ name: objectName().describe(`Name of the ${noun} in the same namespace.`) });
}

/** A reference to one key of a Secret, defaulting to `defaultKey`. */
export function secretKeyRef(defaultKey: string, keyDescription: string) {
  return z.strictObject({
    name: objectName().describe("Name of the Secret in the same namespace."),
    key: secretKey().default(defaultKey).describe(keyDescription),
  });
}

/** A Secret holding a username and a password, under configurable keys. */
export function credentialsSecretRef() {
  return z.strictObject({
    name: objectName().describe("Name of the Secret in the same namespace."),
    usernameKey: secretKey().default("username").describe("Key of the Secret that holds the user name."),
    passwordKey: secretKey().default("password").describe("Key of the Secret that holds the password."),
  });
}

export function secretKey() {
  return z
    .string()
    .min(1, "must not be empty")
    .max(253, "must be at most 253 characters")
    .regex(/^[-._a-zA-Z0-9]+$/, "must be a Secret key: letters, digits, '-', '_' and '.'");
}

export type LocalRef = z.output<ReturnType<typeof localRef>>;
export type SecretKeyRef = z.output<ReturnType<typeof secretKeyRef>>;
export type CredentialsSecretRef = z.output<ReturnType<typeof credentialsSecretRef>>;
