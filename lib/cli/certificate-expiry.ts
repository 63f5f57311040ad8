// Certificates expire silently; the operator view says when, and warns a month ahead.
import * as fs from "node:fs";
import * as path from "node:path";
import { describeCertificate } from "../pki/certificate";

export const EXPIRY_WARNING_DAYS = 30;

export interface CertificateExpiry {
  readonly file: string;
  readonly commonName: string;
  readonly notAfter: Date;
  readonly daysLeft: number;
}

/** Every certificate (*.pem that is not a key) in the PKI directory, soonest expiry first. */
export function readCertificateExpiry(directory: string, now: Date): CertificateExpiry[] {
  return fs
    .readdirSync(directory)
    .filter((f) => f.endsWith(".pem") && !f.endsWith("-key.pem"))
    .map((file) => {
      const info = describeCertificate(fs.readFileSync(path.join(directory, file), "utf8"));
      const daysLeft = Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);
      return { file, commonName: info.commonName, notAfter: info.notAfter, daysLeft };
    })
    .sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime() || a.file.localeCompare(b.file));
}

export function formatExpiry(certificates: readonly CertificateExpiry[]): string[] {
  return certificates.map((c) => {
    const when = `${c.file} (${c.commonName}) expires ${c.notAfter.toISOString().slice(0, 10)}`;
    if (c.daysLeft < 0) return `EXPIRED: ${when}, ${-c.daysLeft} days ago: delete it and run cdktf synth to re-issue`;
    if (c.daysLeft <= EXPIRY_WARNING_DAYS) {
      return `WARNING: ${when}, in ${c.daysLeft} days: delete it and run cdktf synth to re-issue, then roll the members`;
    }
    return `${when}, in ${c.daysLeft} days`;
  });
}
