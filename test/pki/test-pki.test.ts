// The seeded test PKI: reproducible from its seed alone, and still a PKI that openssl accepts as a
// TLS stack would (SHA-256 signatures, the member certificates valid for server and client use).
import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { seededRsaKeyPem } from "../../lib/pki/seeded-rsa";
import { planTestPki, TEST_CA_COMMON_NAME, TEST_PKI_NOT_AFTER, TEST_PKI_NOT_BEFORE } from "../../lib/pki/test-pki";
import { requireTool } from "../support/tools";

const MEMBERS = [
  { name: "etcd_node1", ipAddresses: ["172.16.0.101", "127.0.0.1"], dnsNames: ["localhost"] },
  { name: "etcd_node2", ipAddresses: ["172.16.0.102", "127.0.0.1"], dnsNames: ["localhost"] },
];

const plan = (seed: string, keySize = 2048) => planTestPki({ seed, keySize, directory: "/nowhere" }, MEMBERS).material;

describe("seeded RSA keys", () => {
  test("GIVEN one seed and label WHEN derived twice THEN the keys are byte-identical PKCS#1 RSA keys of the size asked", () => {
    const first = seededRsaKeyPem("seed-a", "ca", 2048);
    expect(seededRsaKeyPem("seed-a", "ca", 2048)).toBe(first);
    expect(first).toMatch(/^-----BEGIN RSA PRIVATE.KEY-----\n/);
    expect(createPrivateKey(first).asymmetricKeyDetails).toEqual({ modulusLength: 2048, publicExponent: 65537n });
  });

  test.each([
    ["another seed", "seed-b", "ca"],
    ["another label", "seed-a", "admin"],
  ])("GIVEN %s THEN the key differs", (_what, seed, label) => {
    expect(seededRsaKeyPem(seed, label, 2048)).not.toBe(seededRsaKeyPem("seed-a", "ca", 2048));
  });

  test.each([1024, 2047, 8192])("GIVEN %d bits THEN it refuses, naming the sizes it makes", (bits) => {
    expect(() => seededRsaKeyPem("s", "ca", bits)).toThrow(`seeded RSA keys are 2048, 3072 or 4096 bits, not ${bits}`);
  });
});

describe("the test PKI", () => {
  test("GIVEN the same seed WHEN planned twice THEN every certificate and key is identical", () => {
    const [a, b] = [plan("same"), plan("same")];
    expect(b.caCertPem).toBe(a.caCertPem);
    expect(b.admin).toEqual(a.admin);
    expect([...b.members]).toEqual([...a.members]);
  });

  test("GIVEN two seeds THEN no key or certificate is shared", () => {
    const [a, b] = [plan("one"), plan("two")];
    expect(b.caFingerprintSha256).not.toBe(a.caFingerprintSha256);
    expect(b.members.get("etcd_node1")!.keyPem).not.toBe(a.members.get("etcd_node1")!.keyPem);
  });

  test("GIVEN a plan THEN it writes nothing and names the CA as insecure, valid over fixed dates", () => {
    const planned = planTestPki({ seed: "s", keySize: 2048, directory: "/nowhere" }, MEMBERS);
    expect(planned.pendingWrites).toEqual([]);
    const ca = new X509Certificate(planned.material.caCertPem);
    expect(ca.subject).toContain(`CN=${TEST_CA_COMMON_NAME}`);
    expect(new Date(ca.validFrom)).toEqual(TEST_PKI_NOT_BEFORE);
    expect(new Date(ca.validTo)).toEqual(new Date(Math.floor(TEST_PKI_NOT_AFTER.getTime() / 1000) * 1000));
  });

  test("GIVEN the test PKI on disk WHEN openssl verifies it THEN members pass as TLS servers and clients, admin as a client, all SHA-256 signed", () => {
    const openssl = requireTool("openssl", "openssl");
    const material = plan("openssl");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "test-pki-openssl-"));
    try {
      fs.writeFileSync(path.join(dir, "ca.pem"), material.caCertPem);
      fs.writeFileSync(path.join(dir, "admin.pem"), material.admin.certPem);
      fs.writeFileSync(path.join(dir, "etcd_node1.pem"), material.members.get("etcd_node1")!.certPem);
      const verify = (purpose: string, file: string) =>
        execFileSync(openssl, ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", "ca.pem", file], { cwd: dir, encoding: "utf8" });
      expect(verify("sslserver", "etcd_node1.pem")).toBe("etcd_node1.pem: OK\n");
      expect(verify("sslclient", "etcd_node1.pem")).toBe("etcd_node1.pem: OK\n");
      expect(verify("sslclient", "admin.pem")).toBe("admin.pem: OK\n");
      for (const file of ["ca.pem", "admin.pem", "etcd_node1.pem"]) {
        const text = execFileSync(openssl, ["x509", "-noout", "-text", "-in", file], { cwd: dir, encoding: "utf8" });
        expect(text).toContain("Signature Algorithm: sha256WithRSAEncryption");
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("GIVEN a member's key THEN it belongs to its certificate", () => {
    const { certPem, keyPem } = plan("pair").members.get("etcd_node2")!;
    expect(new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
  });
});
