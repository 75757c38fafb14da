import { z } from "zod";
import { localRef } from "./refs.ts";

export const ImagePullPolicySchema = z
  .enum(["Always", "IfNotPresent", "Never"])
  .describe("When the kubelet pulls the image; Kubernetes' default applies when unset.");

export const ImagePullSecretsSchema = z
  .array(localRef("Secret"))
  .max(16)
  .describe("Secrets with registry credentials for pulling the image.");
