// PEM text <-> DER blocks. Only CERTIFICATE blocks are ever returned: whatever else a file holds (a private key
// pasted into ca.crt, say) is dropped here and never copied onward.

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END \1-----/g;

/** The DER bytes of every CERTIFICATE block in `text`, in order. */
export function certificateBlocks(text: string): Buffer[] {
  const blocks: Buffer[] = [];
  for (const [, label, body] of text.matchAll(BLOCK)) {
    if (label === "CERTIFICATE" && body !== undefined)
      blocks.push(Buffer.from(body.replace(/\s+/g, ""), "base64"));
  }
  return blocks;
}

/** DER as a PEM CERTIFICATE block with 64-character lines and a trailing newline. */
export function certificatePem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}
