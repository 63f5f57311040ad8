import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import forge from "node-forge";
import { type CertificateSpec, certificateSatisfies, describeCertificate, issueCertificate, selfSignCa } from "../../lib/pki/certificate";
import { PkiError } from "../../lib/pki/pki-error";
import { FIXTURE_PKI_OPTIONS } from "../fixtures/make-fixture-pki";

const fixture = (file: string) => fs.readFileSync(path.join(FIXTURE_PKI_OPTIONS.directory, file), "utf8");
const publicKeyOf = (keyPem: string) => createPublicKey(keyPem).export({ type: "spki", format: "pem" }) as string;

const CA_KEY = fixture("ca-key.pem");
const MEMBER_KEY = fixture("etcd_node1-key.pem");
const NOT_BEFORE = new Date("2026-01-01T00:00:00Z");
const NOT_AFTER = new Date("2027-01-01T00:00:00Z");
const CA_INPUT = { keyPem: CA_KEY, commonName: "etcd-ca", serialHex: "01", notBefore: NOT_BEFORE, notAfter: NOT_AFTER };
const CA = { certPem: selfSignCa(CA_INPUT), keyPem: CA_KEY };
const MEMBER_SPEC: CertificateSpec = {
  commonName: "etcd_node1",
  ipAddresses: ["172.16.0.101", "127.0.0.1"],
  dnsNames: ["localhost"],
  usage: "peer-and-server",
};
const MEMBER_INPUT = {
  publicKeyPem: publicKeyOf(MEMBER_KEY),
  ca: CA,
  serialHex: "3f00aa",
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  spec: MEMBER_SPEC,
};
const CLIENT_INPUT = {
  ...MEMBER_INPUT,
  spec: { commonName: "admin", ipAddresses: [], dnsNames: [], usage: "client" as const },
};

interface ForgeExtension {
  critical?: boolean;
  value: string;
  [field: string]: unknown;
}
const extensionOf = (pem: string, name: string) => forge.pki.certificateFromPem(pem).getExtension(name) as ForgeExtension | null;
// The TBSCertificate's raw issuer (index 3) or subject (index 5), as DER bytes.
const rawName = (pem: string, index: 3 | 5) => {
  const certificate = forge.asn1.fromDer(forge.pem.decode(pem)[0]!.body);
  const tbs = (certificate.value as forge.asn1.Asn1[])[0]!;
  return forge.asn1.toDer((tbs.value as forge.asn1.Asn1[])[index]!).toHex();
};

describe("selfSignCa", () => {
  test("same inputs give byte-identical PEM with LF line endings", () => {
    // GIVEN fixed inputs
    // WHEN the CA is signed twice
    const first = selfSignCa(CA_INPUT);
    const second = selfSignCa(CA_INPUT);
    // THEN the bytes are equal, and the PEM has no CR
    expect(second).toBe(first);
    expect(first).not.toContain("\r");
    expect(first).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
  });

  test("is a self-signed SHA-256 CA with critical CA:true and keyCertSign+cRLSign", () => {
    // GIVEN the CA of the fixed inputs
    // WHEN it is read back
    const info = describeCertificate(CA.certPem);
    const forgeCert = forge.pki.certificateFromPem(CA.certPem);
    // THEN it is a CA named by the inputs, signed by its own key with SHA-256
    expect(info).toMatchObject({
      commonName: "etcd-ca",
      issuerCommonName: "etcd-ca",
      isCa: true,
      serialHex: "01",
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      extKeyUsage: [],
    });
    expect(forgeCert.signatureOid).toBe(forge.pki.oids.sha256WithRSAEncryption);
    expect(new X509Certificate(CA.certPem).verify(createPublicKey(CA_KEY))).toBe(true);
    expect(new X509Certificate(CA.certPem).subject).toBe("O=etcd\nCN=etcd-ca");
    expect(extensionOf(CA.certPem, "basicConstraints")).toMatchObject({ cA: true, critical: true });
    expect(extensionOf(CA.certPem, "keyUsage")).toMatchObject({ keyCertSign: true, cRLSign: true, critical: true });
    expect(extensionOf(CA.certPem, "subjectKeyIdentifier")).not.toBeNull();
  });
});

describe("issueCertificate", () => {
  test("same inputs give byte-identical PEM with LF line endings; another serial gives other bytes", () => {
    // GIVEN fixed inputs
    // WHEN the certificate is issued twice, and once with another serial
    const first = issueCertificate(MEMBER_INPUT);
    const second = issueCertificate(MEMBER_INPUT);
    const otherSerial = issueCertificate({ ...MEMBER_INPUT, serialHex: "3f00ab" });
    // THEN the first two are equal and CR-free; the third differs
    expect(second).toBe(first);
    expect(first).not.toContain("\r");
    expect(otherSerial).not.toBe(first);
  });

  test("a member certificate: SANs, serverAuth+clientAuth, CA:false, SHA-256, signed by the CA", () => {
    // GIVEN a peer-and-server spec
    // WHEN the certificate is issued
    const certPem = issueCertificate(MEMBER_INPUT);
    const x509 = new X509Certificate(certPem);
    // THEN it carries what etcd needs for peer and client links
    expect(describeCertificate(certPem)).toMatchObject({
      commonName: "etcd_node1",
      issuerCommonName: "etcd-ca",
      ipAddresses: ["172.16.0.101", "127.0.0.1"],
      dnsNames: ["localhost"],
      extKeyUsage: ["serverAuth", "clientAuth"],
      isCa: false,
      serialHex: "3f00aa",
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
    });
    expect(forge.pki.certificateFromPem(certPem).signatureOid).toBe(forge.pki.oids.sha256WithRSAEncryption);
    expect(x509.verify(createPublicKey(CA_KEY))).toBe(true);
    expect(x509.checkIssued(new X509Certificate(CA.certPem))).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(MEMBER_KEY))).toBe(true);
    expect(extensionOf(certPem, "basicConstraints")).toMatchObject({ critical: true });
    expect(extensionOf(certPem, "basicConstraints")!.cA).toBeFalsy();
    expect(extensionOf(certPem, "keyUsage")).toMatchObject({
      digitalSignature: true,
      keyEncipherment: true,
      keyCertSign: false,
      critical: true,
    });
  });

  test("the authority key identifier is the CA's subject key identifier", () => {
    // GIVEN a member certificate
    const certPem = issueCertificate(MEMBER_INPUT);
    // WHEN its AKI keyIdentifier ([0]) is read
    const aki = forge.asn1.fromDer(extensionOf(certPem, "authorityKeyIdentifier")!.value);
    const keyIdentifier = forge.util.bytesToHex((aki.value as forge.asn1.Asn1[])[0]!.value as string);
    // THEN it equals the CA's SKI, and the certificate has an SKI of its own
    expect(keyIdentifier).toBe(extensionOf(CA.certPem, "subjectKeyIdentifier")!.subjectKeyIdentifier);
    expect(extensionOf(certPem, "subjectKeyIdentifier")!.subjectKeyIdentifier).not.toBe(keyIdentifier);
  });

  test("a client certificate: clientAuth only, no SAN extension", () => {
    // GIVEN a client spec
    // WHEN the certificate is issued
    const certPem = issueCertificate(CLIENT_INPUT);
    // THEN it can only authenticate a client
    expect(describeCertificate(certPem)).toMatchObject({
      commonName: "admin",
      extKeyUsage: ["clientAuth"],
      ipAddresses: [],
      dnsNames: [],
      isCa: false,
    });
    expect(extensionOf(certPem, "subjectAltName")).toBeNull();
  });

  test("names are UTF8String: Go rejects the '_' of etcd_node1 in forge's default PrintableString", () => {
    // GIVEN a member certificate for a name with "_"
    const certPem = issueCertificate(MEMBER_INPUT);
    // WHEN its subject attributes are read
    const attributes = forge.pki.certificateFromPem(certPem).subject.attributes;
    // THEN each value is a UTF8String
    expect(attributes.map((attribute) => attribute.valueTagClass)).toEqual([forge.asn1.Type.UTF8, forge.asn1.Type.UTF8]);
  });

  test("the issuer is the CA's subject byte for byte, also for a non-ASCII CA name", () => {
    // GIVEN a CA whose name forge would re-encode wrongly (UTF-8)
    const ca = { certPem: selfSignCa({ ...CA_INPUT, commonName: "Zürich etcd CA" }), keyPem: CA_KEY };
    // WHEN a certificate is issued by it
    const certPem = issueCertificate({ ...MEMBER_INPUT, ca });
    // THEN Go's byte-wise parent lookup finds the CA, and the name reads back right
    expect(rawName(certPem, 3)).toBe(rawName(ca.certPem, 5));
    expect(describeCertificate(certPem).issuerCommonName).toBe("Zürich etcd CA");
  });

  test("duplicate SANs collapse and IPv6 is written canonically", () => {
    // GIVEN SANs with repeats and a long-form IPv6 address
    const spec = {
      ...MEMBER_SPEC,
      ipAddresses: ["127.0.0.1", "0:0:0:0:0:0:0:1", "127.0.0.1"],
      dnsNames: ["localhost", "localhost"],
    };
    // WHEN the certificate is issued
    const info = describeCertificate(issueCertificate({ ...MEMBER_INPUT, spec }));
    // THEN each SAN appears once
    expect(info.ipAddresses).toEqual(["127.0.0.1", "::1"]);
    expect(info.dnsNames).toEqual(["localhost"]);
  });

  const ecKeys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const ecPublicPem = ecKeys.publicKey.export({ type: "spki", format: "pem" }) as string;
  const ecPrivatePem = ecKeys.privateKey.export({ type: "sec1", format: "pem" }) as string;
  test.each([
    ["empty serial", { serialHex: "" }, /serial/],
    ["non-hex serial", { serialHex: "zz" }, /serial "zz"/],
    ["odd-length serial", { serialHex: "123" }, /serial/],
    ["zero serial", { serialHex: "00" }, /serial/],
    ["serial with the high bit set (negative)", { serialHex: "80aa" }, /first byte 01\.\.7f/],
    ["non-minimal serial (leading zero byte)", { serialHex: "0001" }, /serial/],
    ["serial over 20 bytes", { serialHex: "01".repeat(21) }, /1 to 20 bytes/],
    ["notAfter equal to notBefore", { notAfter: NOT_BEFORE }, /notAfter .* is not after notBefore/],
    ["invalid date", { notBefore: new Date("not a date") }, /not a valid date/],
    ["EC public key", { publicKeyPem: ecPublicPem }, /RSA/],
    ["EC CA key", { ca: { certPem: CA.certPem, keyPem: ecPrivatePem } }, /signed with RSA only/],
    ["empty common name", { spec: { ...MEMBER_SPEC, commonName: "" } }, /non-empty common name/],
    ["bad IPv4 address", { spec: { ...MEMBER_SPEC, ipAddresses: ["172.16.0.300"] } }, /"172\.16\.0\.300" is not an IP address/],
    ["IPv6 address with a zone", { spec: { ...MEMBER_SPEC, ipAddresses: ["fe80::1%eth0"] } }, /not an IP address/],
    ["DNS name with a space", { spec: { ...MEMBER_SPEC, dnsNames: ["my host"] } }, /"my host" is not a DNS name/],
    ["DNS label starting with -", { spec: { ...MEMBER_SPEC, dnsNames: ["-x.example.com"] } }, /not a DNS name/],
    ["empty DNS name", { spec: { ...MEMBER_SPEC, dnsNames: [""] } }, /not a DNS name/],
    ["CA certificate that is not PEM", { ca: { certPem: "nope", keyPem: CA_KEY } }, /CA certificate/],
    ["CA key of another certificate", { ca: { certPem: CA.certPem, keyPem: MEMBER_KEY } }, /CA key does not belong/],
  ])("rejects %s with a PkiError", (_, override, message) => {
    // GIVEN valid inputs but for one bad value
    // WHEN a certificate is issued
    // THEN a PkiError explains the bad value
    expect(() => issueCertificate({ ...MEMBER_INPUT, ...override })).toThrow(PkiError);
    expect(() => issueCertificate({ ...MEMBER_INPUT, ...override })).toThrow(message);
  });
});

describe("describeCertificate", () => {
  test("reads the fixture member certificate", () => {
    // GIVEN the committed fixture certificate of etcd_node1
    const certPem = fixture("etcd_node1.pem");
    // WHEN it is described
    const info = describeCertificate(certPem);
    // THEN fields match the fixture recipe and the fingerprint matches node's
    expect(info).toMatchObject({
      commonName: "etcd_node1",
      issuerCommonName: "etcd-ca",
      ipAddresses: ["172.16.0.101", "127.0.0.1"],
      dnsNames: ["localhost"],
      extKeyUsage: ["serverAuth", "clientAuth"],
      notBefore: new Date("2025-12-31T23:00:00Z"),
      isCa: false,
    });
    expect(info.fingerprintSha256).toBe(new X509Certificate(certPem).fingerprint256.replace(/:/g, "").toLowerCase());
    expect(info.serialHex).toMatch(/^[0-7][0-9a-f]{31}$/);
  });

  test.each([
    ["text that is not PEM", "hello"],
    ["a PEM key instead of a certificate", MEMBER_KEY],
  ])("rejects %s with a PkiError", (_, input) => {
    // GIVEN something that is no certificate
    // WHEN it is described
    // THEN a PkiError says so
    expect(() => describeCertificate(input)).toThrow(PkiError);
  });
});

describe("certificateSatisfies", () => {
  const info = describeCertificate(issueCertificate(MEMBER_INPUT));
  test.each<[string, boolean, Partial<CertificateSpec>]>([
    ["the same spec", true, {}],
    ["SANs in another order", true, { ipAddresses: ["127.0.0.1", "172.16.0.101"] }],
    ["DNS names in another case", true, { dnsNames: ["LOCALHOST"] }],
    ["an IP less", false, { ipAddresses: ["172.16.0.101"] }],
    ["an extra DNS name", false, { dnsNames: ["localhost", "etcd.example.com"] }],
    ["another common name", false, { commonName: "etcd_node2" }],
    ["client usage", false, { usage: "client" }],
  ])("a member certificate against %s: %s", (_, expected, change) => {
    // GIVEN a member certificate and a spec differing by `change`
    // WHEN they are compared
    // THEN only name, SAN set and usage matter
    expect(certificateSatisfies(info, { ...MEMBER_SPEC, ...change })).toBe(expected);
  });
});
