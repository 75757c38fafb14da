import { z } from "zod";
import { withRules } from "./annotations.ts";
import { commonStatusFields } from "./conditions.ts";
import { duration } from "./duration.ts";
import { DNS1123_LABEL, dnsLabel, objectName, patterned, RELATIVE_PATH } from "./formats.ts";
import { AGE_COLUMN, defineKind, READY_COLUMN, REASON_COLUMN } from "./kind.ts";
import { localRef } from "./refs.ts";

// Git reference names as people write them; git allows more, but nothing a deployment branch needs.
const GIT_REF_NAME = "^[A-Za-z0-9._/+-]+$";

const RefSchema = withRules(
  z.strictObject({
    branch: patterned(GIT_REF_NAME, 255, "must be a branch name").optional().describe("Follow this branch."),
    tag: patterned(GIT_REF_NAME, 255, "must be a tag name").optional().describe("Check out this tag."),
    semver: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[0-9A-Za-z.*xX^~<>=|, -]+$/, 'must be a semver range like ">=1.2.0 <2.0.0"')
      .optional()
      .describe('Check out the highest tag matching this semver range, such as ">=1.2.0 <2.0.0" or "1.x".'),
    commit: patterned("^([0-9a-f]{40}|[0-9a-f]{64})$", 64, "must be a full 40- or 64-character commit hash")
      .optional()
      .describe("Check out exactly this commit."),
  }),
  [
    {
      rule: "[has(self.branch), has(self.tag), has(self.semver), has(self.commit)].filter(x, x).size() == 1",
      message: "set exactly one of branch, tag, semver or commit",
      check: (r) => [r.branch, r.tag, r.semver, r.commit].filter((x) => x !== undefined).length === 1,
    },
  ],
);

export const GitSourceSpecSchema = withRules(
  z.strictObject({
    url: patterned(
      "^(https?|ssh|file)://[^\\s]+$",
      2048,
      "must be an https://, http://, ssh:// or file:// URL (for SSH write ssh://git@host/org/repo.git, not git@host:org/repo)",
    ).describe("Repository URL: https://, ssh://, or file:// for repositories on a mounted volume."),
    ref: RefSchema.prefault({ branch: "main" }).describe(
      "What to check out: exactly one of branch, tag, semver or commit. Branch main when unset.",
    ),
    path: z
      .string()
      .min(1)
      .max(1024)
      .regex(new RegExp(RELATIVE_PATH), "must be a relative path without '..' or hidden segments")
      .default(".")
      .describe("Directory in the repository whose YAML files (recursively) are applied."),
    interval: duration("10s")
      .default("5m")
      .describe(
        "How often to fetch and re-apply, correcting drift; a change of this object applies at once.",
      ),
    secretRef: localRef("Secret")
      .optional()
      .describe(
        "Credentials: identity and known_hosts for SSH; username and password, or bearerToken, for HTTPS; " +
          "optionally ca.crt for a private certificate authority.",
      ),
    verify: z
      .strictObject({
        mode: z
          .enum(["HEAD", "Tag", "TagAndHEAD"])
          .default("HEAD")
          .describe("What must be signed: the checked-out commit, the tag, or both."),
        secretRef: localRef("Secret").describe(
          "Trusted public keys: PGP keys as *.asc, SSH keys as *.sshpub.",
        ),
      })
      .optional()
      .describe(
        "Refuse to apply revisions whose signature does not verify (reported as SourceVerified=False).",
      ),
    decryption: z
      .strictObject({
        provider: z.enum(["sops"]).default("sops").describe("Decryption provider; SOPS is the only one."),
        secretRef: localRef("Secret").describe("Private keys, age keys as *.agekey."),
      })
      .optional()
      .describe("Decrypt SOPS-encrypted files before applying. Encrypted files are refused when unset."),
    prune: z
      .boolean()
      .default(false)
      .describe(
        "Delete objects this source applied before and that are no longer in the repository. Objects that hold " +
          "data (CockroachCluster, Backup, Namespace) are deleted only when annotated " +
          "zitadel-operator.dev/prune: allowed; zitadel-operator.dev/prune: disabled keeps any object.",
      ),
    maxPruneFraction: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe(
        "Refuse to prune more than this share of the applied objects in one go (reported as PruneTooLarge); a " +
          "guard against a wrong path or an emptied branch. Allow it for one commit by annotating the GitSource " +
          "with zitadel-operator.dev/allow-large-prune: <commit hash>. 1 disables the guard.",
      ),
    suspend: z
      .boolean()
      .default(false)
      .describe("Stop fetching and applying; nothing is pruned while suspended."),
    targetNamespace: dnsLabel()
      .optional()
      .describe("Namespace for objects without one; this GitSource's namespace when unset."),
    serviceAccountName: objectName()
      .optional()
      .describe(
        "Apply as this ServiceAccount (impersonation), so RBAC limits what the repository may change. The " +
          "operator does not yet hold the impersonate permission, so a source that sets this is refused " +
          "(ImpersonationUnavailable) rather than applied with the operator's own rights.",
      ),
  }),
  [
    {
      rule: "!has(self.verify) || self.verify.mode == 'HEAD' || has(self.ref.tag) || has(self.ref.semver)",
      message: "verify.mode Tag and TagAndHEAD need ref.tag or ref.semver",
      fieldPath: ".verify.mode",
      check: (s) =>
        s.verify === undefined ||
        s.verify.mode === "HEAD" ||
        s.ref.tag !== undefined ||
        s.ref.semver !== undefined,
    },
  ],
);

const InventoryEntrySchema = z.object({
  id: z.string().max(1024).describe("namespace_name_group_kind of an applied object."),
  v: z.string().max(64).describe("API version it was applied with."),
});

export const GitSourceStatusSchema = z.object({
  ...commonStatusFields,
  lastFetchedRevision: z
    .string()
    .max(512)
    .optional()
    .describe("Revision of the last successful fetch, such as main@sha1:1a2b3c..."),
  lastAppliedRevision: z.string().max(512).optional().describe("Revision last applied completely."),
  lastAttemptedRevision: z.string().max(512).optional().describe("Revision last tried, applied or not."),
  lastHandledReconcileAt: z
    .string()
    .max(64)
    .optional()
    .describe(
      "Value of the zitadel-operator.dev/requested-at annotation last acted on; set that annotation to sync now.",
    ),
  inventory: z
    .object({
      entries: z.array(InventoryEntrySchema).max(10000).describe("Applied objects."),
    })
    .optional()
    .describe("Objects applied from the repository: what prune compares against."),
});

export const GitSourceKind = defineKind({
  kind: "GitSource",
  plural: "gitsources",
  shortNames: ["gs"],
  description:
    "Applies the zitadel-operator resources in a directory of a Git repository and keeps them in sync: fetch, " +
    "verify signatures, decrypt SOPS files, validate, server-side apply, and prune with a safety limit.",
  name: {
    pattern: DNS1123_LABEL,
    maxLength: 63,
    reason: "the name is a label value on every object the source applies",
  },
  spec: GitSourceSpecSchema,
  status: GitSourceStatusSchema,
  printerColumns: [
    READY_COLUMN,
    {
      name: "Revision",
      type: "string",
      jsonPath: ".status.lastAppliedRevision",
      description: "Applied revision.",
    },
    {
      name: "Suspended",
      type: "boolean",
      jsonPath: ".spec.suspend",
      description: "Whether it is suspended.",
    },
    { name: "URL", type: "string", jsonPath: ".spec.url", description: "Repository.", priority: 1 },
    REASON_COLUMN,
    AGE_COLUMN,
  ],
});

export const GitSourceSchema = GitSourceKind.schema;
export type GitSourceSpec = z.output<typeof GitSourceSpecSchema>;
export type GitSourceStatus = z.output<typeof GitSourceStatusSchema>;
export type GitSource = z.output<typeof GitSourceSchema>;
