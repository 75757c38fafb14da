import { readFile } from "node:fs/promises";
import { identityToRecipient } from "age-encryption";
import type { Command } from "commander";
import {
  decryptSopsFile,
  documentsToYaml,
  encryptSopsFile,
  KUBERNETES_ENCRYPTED_REGEX,
  parseAgeIdentities,
} from "../gitops/sops.ts";

async function readInput(file: string | undefined): Promise<{ text: string; name: string }> {
  if (file !== undefined && file !== "-") return { text: await readFile(file, "utf8"), name: file };
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return { text: Buffer.concat(chunks).toString("utf8"), name: "<stdin>" };
}

async function readIdentities(file: string): Promise<string[]> {
  const identities = parseAgeIdentities(await readFile(file, "utf8"));
  // The file's content is never echoed: it is a private key.
  if (identities.length === 0) throw new Error(`${file} holds no age identity (AGE-SECRET-KEY-1...)`);
  return identities;
}

export function registerSecretCommand(program: Command): void {
  const secret = program
    .command("secret")
    .description(
      "Encrypt and decrypt SOPS files with age keys, as a GitSource with spec.decryption reads them.",
    );

  secret
    .command("encrypt")
    .description(
      "Encrypt YAML or JSON (a file, or stdin) into a SOPS YAML file on stdout. By default only the values under " +
        "data and stringData are encrypted, so kind and metadata stay readable in review.",
    )
    .argument("[file]", "plaintext YAML or JSON; stdin when omitted or -")
    .option("--age-recipient <recipient...>", "age public key(s) (age1...) that may decrypt the file")
    .option("--age-key-file <file>", "an age identity file; its public key becomes a recipient")
    .option(
      "--encrypted-regex <regex>",
      "encrypt values under keys matching this",
      KUBERNETES_ENCRYPTED_REGEX,
    )
    .option("--encrypt-all", "encrypt every value (sops's default), not only data and stringData")
    .action(
      async (
        file: string | undefined,
        opts: { ageRecipient?: string[]; ageKeyFile?: string; encryptedRegex: string; encryptAll?: boolean },
      ) => {
        const recipients = [...(opts.ageRecipient ?? [])];
        if (opts.ageKeyFile !== undefined) {
          for (const identity of await readIdentities(opts.ageKeyFile))
            recipients.push(await identityToRecipient(identity));
        }
        if (recipients.length === 0) throw new Error("give --age-recipient or --age-key-file");
        const input = await readInput(file);
        const encrypted = await encryptSopsFile(input.text, {
          recipients,
          file: input.name,
          ...(opts.encryptAll ? {} : { encryptedRegex: opts.encryptedRegex }),
        });
        process.stdout.write(encrypted);
      },
    );

  secret
    .command("decrypt")
    .description(
      "Decrypt a SOPS file (a file, or stdin) after checking its MAC, and print it as YAML on stdout.",
    )
    .argument("[file]", "SOPS-encrypted YAML or JSON; stdin when omitted or -")
    .requiredOption("--age-key-file <file>", "age identity file (as age-keygen writes it)")
    .action(async (file: string | undefined, opts: { ageKeyFile: string }) => {
      const identities = await readIdentities(opts.ageKeyFile);
      const input = await readInput(file);
      const documents = await decryptSopsFile(input.text, { identities, file: input.name });
      process.stdout.write(documentsToYaml(documents));
    });
}
