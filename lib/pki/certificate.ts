// X.509 certificates for etcd, built from explicit inputs only: no clock, no randomness, no files.
// The same inputs give byte-identical PEM (RSA PKCS#1 v1.5 signatures are deterministic).
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from "node:crypto";
import { isIP, SocketAddress } from "node:net";
import forge from "node-forge";
import { PkiError } from "./pki-error";

/** "peer-and-server": a member, which is TLS server and (on peer links) TLS client. "client": etcdctl/admin. */
export type CertificateUsage = "peer-and-server" | "client";

export interface CertificateSpec {
  readonly commonName: string;
  /** IP subject alternative names. */
  readonly ipAddresses: readonly string[];
  /** DNS subject alternative names. */
  readonly dnsNames: readonly string[];
  readonly usage: CertificateUsage;
}

/** An RSA CA: its certificate and private key (PKCS#1 or PKCS#8 PEM). */
export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateInfo {
  readonly commonName: string;
  readonly issuerCommonName: string;
  readonly ipAddresses: string[];
  readonly dnsNames: string[];
  /** Extended key usages by name ("serverAuth", "clientAuth"), or OID when forge has no name for it. */
  readonly extKeyUsage: string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialHex: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  readonly fingerprintSha256: string;
  readonly isCa: boolean;
}

// etcd checks both on peer links: a member dials its peers as a client and serves them.
const EXT_KEY_USAGE: Record<CertificateUsage, readonly string[]> = {
  "peer-and-server": ["serverAuth", "clientAuth"],
  client: ["clientAuth"],
};

const ORGANIZATION = "etcd";
// forge reads valueTagClass as an ASN.1 type; @types/node-forge declares it a tag class.
const UTF8_STRING = forge.asn1.Type.UTF8 as number as forge.asn1.Class;
const SAN_DNS = 2;
const SAN_IP = 7;
// Indexes in a v3 TBSCertificate, whose first element is the explicit [0] version.
const TBS_ISSUER = 3;
const TBS_SUBJECT = 5;
const DNS_NAME = /^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/;

/** A self-signed CA certificate for `keyPem` (RSA). */
export function selfSignCa(input: { keyPem: string; commonName: string; serialHex: string; notBefore: Date; notAfter: Date }): string {
  checkCommonName(input.commonName);
  const key = rsaPrivateKey(input.keyPem);
  const cert = newCertificate(publicKeyPemOf(key), input.serialHex, input.notBefore, input.notAfter);
  const subject = subjectOf(input.commonName);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  return signCertificate(cert, key);
}

/** A certificate for `publicKeyPem` (RSA, SPKI or PKCS#1 PEM) signed by `ca`. */
export function issueCertificate(input: {
  publicKeyPem: string;
  ca: CertificateAuthority;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  spec: CertificateSpec;
}): string {
  const { spec } = input;
  checkCommonName(spec.commonName);
  const ipAddresses = unique(spec.ipAddresses.map((ip) => checkedIp(spec.commonName, ip)));
  const dnsNames = unique(spec.dnsNames.map((name) => checkedDnsName(spec.commonName, name)));
  const caKey = rsaPrivateKey(input.ca.keyPem);
  const caDer = derOf(input.ca.certPem, "the CA certificate");
  const caCert = parseCertificate(caDer, "the CA certificate");
  if (forge.pki.publicKeyToPem(caCert.publicKey).replace(/\r\n/g, "\n") !== publicKeyPemOf(caKey)) {
    throw new PkiError("the CA key does not belong to the CA certificate: certificates it signed would not verify");
  }

  const cert = newCertificate(input.publicKeyPem, input.serialHex, input.notBefore, input.notAfter);
  cert.setSubject(subjectOf(spec.commonName));
  const extensions: object[] = [
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", ...Object.fromEntries(EXT_KEY_USAGE[spec.usage].map((usage) => [usage, true])) },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: subjectKeyIdentifierOf(caCert) },
  ];
  if (ipAddresses.length + dnsNames.length > 0) {
    extensions.push({
      name: "subjectAltName",
      altNames: [...dnsNames.map((value) => ({ type: SAN_DNS, value })), ...ipAddresses.map((ip) => ({ type: SAN_IP, ip }))],
    });
  }
  cert.setExtensions(extensions);
  return signCertificate(cert, caKey, subjectDerOf(caDer));
}

/** Reads the fields this library decides on. RSA certificates only (forge parses no other keys). */
export function describeCertificate(certPem: string): CertificateInfo {
  const der = derOf(certPem, "the certificate");
  const cert = parseCertificate(der, "the certificate");
  const altNames = extension<{ altNames: { type: number; value: string; ip?: string }[] }>(cert, "subjectAltName")?.altNames ?? [];
  const extKeyUsage = extension<{ value: string }>(cert, "extKeyUsage");
  const basicConstraints = extension<{ cA?: boolean }>(cert, "basicConstraints");
  return {
    commonName: textOf(cert.subject.getField("CN")),
    issuerCommonName: textOf(cert.issuer.getField("CN")),
    ipAddresses: altNames.filter((n) => n.type === SAN_IP && n.ip !== undefined).map((n) => canonicalIp(n.ip!)),
    dnsNames: altNames.filter((n) => n.type === SAN_DNS).map((n) => n.value),
    extKeyUsage:
      extKeyUsage === undefined
        ? []
        : (forge.asn1.fromDer(extKeyUsage.value).value as forge.asn1.Asn1[]).map((purpose) => {
            const oid = forge.asn1.derToOid(purpose.value as string);
            return forge.pki.oids[oid] ?? oid;
          }),
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    serialHex: cert.serialNumber.toLowerCase(),
    fingerprintSha256: createHash("sha256").update(Buffer.from(der, "binary")).digest("hex"),
    isCa: basicConstraints?.cA === true,
  };
}

/** Whether a certificate already says what `spec` asks for: name, SANs (in any order) and usage. */
export function certificateSatisfies(info: CertificateInfo, spec: CertificateSpec): boolean {
  return (
    !info.isCa &&
    info.commonName === spec.commonName &&
    sameSet(info.ipAddresses.map(canonicalIp), spec.ipAddresses.map(canonicalIp)) &&
    sameSet(
      info.dnsNames.map((name) => name.toLowerCase()),
      spec.dnsNames.map((name) => name.toLowerCase())
    ) &&
    sameSet(info.extKeyUsage, EXT_KEY_USAGE[spec.usage])
  );
}

function newCertificate(publicKeyPem: string, serialHex: string, notBefore: Date, notAfter: Date): forge.pki.Certificate {
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw new PkiError("the certificate's notBefore or notAfter is not a valid date");
  }
  if (notAfter <= notBefore) {
    throw new PkiError(`notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`);
  }
  const cert = forge.pki.createCertificate();
  cert.serialNumber = checkedSerial(serialHex);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  try {
    cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  } catch (e) {
    throw new PkiError(
      `the certificate's public key is not an RSA public key in PEM (${(e as Error).message}); node-forge builds RSA certificates only`
    );
  }
  return cert;
}

// The serial goes into DER as is, so it must already be a positive (high bit clear), minimal
// (no leading zero byte) INTEGER of at most 20 octets (RFC 5280 4.1.2.2): Go rejects anything else.
function checkedSerial(serialHex: string): string {
  if (!/^(0[1-9a-f]|[1-7][0-9a-f])([0-9a-f]{2}){0,19}$/i.test(serialHex)) {
    throw new PkiError(`serial "${serialHex}" is not a positive DER integer: give 1 to 20 bytes of hex, first byte 01..7f`);
  }
  return serialHex.toLowerCase();
}

// UTF8String, as RFC 5280 asks: forge's default PrintableString cannot hold "_" (etcd_node1), and Go
// rejects such a certificate outright ("invalid PrintableString").
function subjectOf(commonName: string): forge.pki.CertificateField[] {
  return [
    { shortName: "O", value: ORGANIZATION, valueTagClass: UTF8_STRING },
    { shortName: "CN", value: commonName, valueTagClass: UTF8_STRING },
  ];
}

// forge's own sign() defaults to SHA-1 (which Go rejects) and runs RSA in JavaScript; node signs natively,
// and PKCS#1 v1.5 (node's default RSA padding) is deterministic.
function signCertificate(cert: forge.pki.Certificate, key: KeyObject, issuerDer?: forge.asn1.Asn1): string {
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  const tbs = getTbsCertificate(cert);
  // Go finds a certificate's parent by comparing raw issuer bytes with the CA's raw subject, and forge
  // re-encodes parsed names lossily (multi-valued RDNs, UTF-8): copy the CA's subject verbatim.
  if (issuerDer !== undefined) (tbs.value as forge.asn1.Asn1[])[TBS_ISSUER] = issuerDer;
  cert.tbsCertificate = tbs;
  cert.signature = sign("sha256", Buffer.from(forge.asn1.toDer(tbs).getBytes(), "binary"), key).toString("binary");
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, "\n");
}

// Part of forge's API (x509.js) but missing from @types/node-forge.
function getTbsCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 {
  return (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
}

function subjectDerOf(certDer: string): forge.asn1.Asn1 {
  const tbs = (forge.asn1.fromDer(certDer).value as forge.asn1.Asn1[])[0];
  const fields = tbs.value as forge.asn1.Asn1[];
  const hasVersion = fields[0].tagClass === forge.asn1.Class.CONTEXT_SPECIFIC;
  return fields[hasVersion ? TBS_SUBJECT : TBS_SUBJECT - 1];
}

// The authority key identifier must equal the CA's own subject key identifier, which may not be
// the SHA-1 forge would compute (e.g. a CA made by another tool): read it when present.
function subjectKeyIdentifierOf(caCert: forge.pki.Certificate): string {
  const ski = extension<{ subjectKeyIdentifier: string }>(caCert, "subjectKeyIdentifier");
  return ski !== undefined ? forge.util.hexToBytes(ski.subjectKeyIdentifier) : caCert.generateSubjectKeyIdentifier().getBytes();
}

function rsaPrivateKey(keyPem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new PkiError(`the signing key is not a readable PEM private key (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new PkiError(`the signing key is ${key.asymmetricKeyType}, but certificates here are signed with RSA only`);
  }
  return key;
}

function publicKeyPemOf(key: KeyObject): string {
  return createPublicKey(key).export({ type: "spki", format: "pem" }) as string;
}

function derOf(pem: string, what: string): string {
  let messages: forge.pem.ObjectPEM[];
  try {
    messages = forge.pem.decode(pem);
  } catch (e) {
    throw new PkiError(`${what} is not PEM (${(e as Error).message})`);
  }
  const certificate = messages.find((message) => message.type === "CERTIFICATE");
  if (certificate === undefined) throw new PkiError(`${what} holds no PEM CERTIFICATE block`);
  return certificate.body;
}

function parseCertificate(der: string, what: string): forge.pki.Certificate {
  try {
    return forge.pki.certificateFromAsn1(forge.asn1.fromDer(der));
  } catch (e) {
    throw new PkiError(`${what} is not an RSA X.509 certificate (${(e as Error).message})`);
  }
}

// A parsed extension as forge describes it (its fields depend on the extension), or undefined.
function extension<T>(cert: forge.pki.Certificate, name: string): T | undefined {
  return (cert.getExtension(name) as T | null | undefined) ?? undefined;
}

// forge keeps attribute values as raw bytes; UTF8String ones need decoding.
function textOf(field: { value: string; valueTagClass?: number } | null | undefined): string {
  if (field == null) return "";
  return field.valueTagClass === forge.asn1.Type.UTF8 ? forge.util.decodeUtf8(field.value) : field.value;
}

function checkCommonName(commonName: string): void {
  if (commonName === "") throw new PkiError("a certificate needs a non-empty common name");
}

function checkedIp(commonName: string, ip: string): string {
  // A zone ("fe80::1%eth0") is valid for isIP but has no place in a certificate.
  if (isIP(ip) === 0 || ip.includes("%")) {
    throw new PkiError(`certificate "${commonName}": "${ip}" is not an IP address (host names go in dnsNames)`);
  }
  return canonicalIp(ip);
}

function checkedDnsName(commonName: string, name: string): string {
  if (name.length > 253 || !DNS_NAME.test(name)) {
    throw new PkiError(`certificate "${commonName}": "${name}" is not a DNS name (letters, digits, "-", "_", dots)`);
  }
  return name;
}

function canonicalIp(ip: string): string {
  const family = isIP(ip);
  return family === 0 ? ip : new SocketAddress({ address: ip, family: family === 6 ? "ipv6" : "ipv4" }).address;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((value) => right.has(value));
}
