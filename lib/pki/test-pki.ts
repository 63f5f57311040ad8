// An INSECURE PKI for snapshot tests: every key, serial and date follows from the seed, so the
// synthesized stack is byte-identical on every machine, on every run, with no PKI directory. It
// reads and writes nothing. Anyone who knows the seed has every private key: cluster-pki.ts keeps
// it out of real synths and makes any stack holding it fail `terraform plan`.
import { createHash, createPublicKey } from "node:crypto";
import { type CertificateSpec, describeCertificate, issueCertificate, selfSignCa } from "./certificate";
import type { CertifiedKey, MemberCertificateRequest, PkiPlan } from "./pki-directory";
import { ADMIN, CA, certFile, keyFile } from "./pki-files";
import { seededRsaKeyPem } from "./seeded-rsa";
import * as path from "node:path";

/** The seed when none is given. Public, like every test seed: that is the point of it. */
export const DEFAULT_TEST_PKI_SEED = "cdktf-etcd-cluster insecure test PKI";
/** Its CA's common name says what it is wherever the certificate shows up. */
export const TEST_CA_COMMON_NAME = "etcd-INSECURE-TEST-CA";
// Fixed, so the expiry outputs are stable, and wide, so etcd and openssl accept the certificates
// whenever the tests run. UTCTime (before 2050) as every TLS stack reads it.
export const TEST_PKI_NOT_BEFORE = new Date("2020-01-01T00:00:00Z");
export const TEST_PKI_NOT_AFTER = new Date("2049-12-31T23:59:59Z");

export interface TestPkiOptions {
  readonly seed: string;
  readonly keySize: number;
  /** Only named in the material's paths, as the real directory would be: nothing is read there. */
  readonly directory: string;
}

/** The same shape PkiDirectory.plan() gives, so the construct renders a test PKI exactly as a real one. */
export function planTestPki(options: TestPkiOptions, members: readonly MemberCertificateRequest[]): PkiPlan {
  // Member names come checked (lib/config), as for PkiDirectory.
  const { seed, keySize, directory } = options;

  const caKeyPem = seededRsaKeyPem(seed, "ca", keySize);
  const caCertPem = selfSignCa({
    keyPem: caKeyPem,
    commonName: TEST_CA_COMMON_NAME,
    serialHex: serialHex(seed, "ca"),
    notBefore: TEST_PKI_NOT_BEFORE,
    notAfter: TEST_PKI_NOT_AFTER,
  });
  const ca = { certPem: caCertPem, keyPem: caKeyPem };
  const issue = (name: string, spec: CertificateSpec): CertifiedKey => {
    // "member:" keeps a member named like the admin from sharing its key.
    const keyPem = seededRsaKeyPem(seed, spec.usage === "client" ? name : `member:${name}`, keySize);
    const certPem = issueCertificate({
      publicKeyPem: createPublicKey(keyPem).export({ type: "spki", format: "pem" }).toString(),
      ca,
      serialHex: serialHex(seed, `${spec.usage}:${name}`),
      notBefore: TEST_PKI_NOT_BEFORE,
      notAfter: TEST_PKI_NOT_AFTER,
      spec,
    });
    return { certPem, keyPem };
  };

  const file = (name: string) => path.join(directory, name);
  return {
    material: {
      caCertPem,
      caFingerprintSha256: describeCertificate(caCertPem).fingerprintSha256,
      admin: issue("admin", { commonName: "admin", ipAddresses: [], dnsNames: [], usage: "client" }),
      members: new Map(
        members.map((m) => [
          m.name,
          issue(m.name, { commonName: m.name, ipAddresses: m.ipAddresses, dnsNames: m.dnsNames, usage: "peer-and-server" }),
        ])
      ),
      paths: {
        directory,
        caCert: file(certFile(CA)),
        adminCert: file(certFile(ADMIN)),
        adminKey: file(keyFile(ADMIN)),
        memberKeys: new Map(members.map((m) => [m.name, file(keyFile(m.name))])),
      },
    },
    pendingWrites: [],
    commit: () => undefined,
  };
}

// Positive and minimal as a DER INTEGER, as pki-directory.ts makes its random ones.
function serialHex(seed: string, label: string): string {
  const bytes = createHash("sha256")
    .update(JSON.stringify(["cdktf-etcd-cluster test serial", seed, label]))
    .digest()
    .subarray(0, 16);
  bytes[0] = bytes[0] & 0x7f || 0x01;
  return bytes.toString("hex");
}
