import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describeCertificate, selfSignCa } from "../../lib/pki/certificate";
import {
  type MemberCertificateRequest,
  PkiDirectory,
  PkiError,
  type PkiDirectoryOptions,
  type PkiMaterial,
} from "../../lib/pki/pki-directory";
import { FIXTURE_MEMBERS, FIXTURE_PKI_OPTIONS } from "../fixtures/make-fixture-pki";
import { temporaryDirectory } from "../support/temp";

const DAY_MS = 86_400_000;
const NOW = new Date("2026-03-01T12:00:00Z");
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

function pkiDirectory(directory: string, options: Partial<PkiDirectoryOptions> = {}): PkiDirectory {
  return new PkiDirectory({
    directory,
    keySize: 2048,
    caValidityDays: 3650,
    certificateValidityDays: 825,
    clock: () => NOW,
    ...options,
  });
}

const member = (n: number, dnsNames = ["localhost"]): MemberCertificateRequest => ({
  name: `m${n}`,
  ipAddresses: [`10.0.0.${n}`, "127.0.0.1"],
  dnsNames,
});
const MEMBERS = [member(1), member(2), member(3)];

const fixture = (file: string) => fs.readFileSync(path.join(FIXTURE_PKI_OPTIONS.directory, file), "utf8");
const modeOf = (file: string) => fs.statSync(file).mode & 0o777;
const write = (dir: string, file: string, contents: string) => fs.writeFileSync(path.join(dir, file), contents);
const writesOf = (dir: string, writes: readonly { path: string; mode: number }[]) =>
  writes.map((w) => [path.relative(dir, w.path), w.mode]);

// One committed directory, copied per test: key generation is the slow part.
let base: string;
let baseMaterial: PkiMaterial;
beforeAll(() => {
  base = path.join(temporaryDirectory("pki-directory-test-"), "pki");
  const plan = pkiDirectory(base).plan(MEMBERS);
  plan.commit();
  baseMaterial = plan.material;
});
function copyOfBase(): string {
  const dir = path.join(temporaryDirectory("pki-directory-test-"), "pki");
  fs.cpSync(base, dir, { recursive: true });
  return dir;
}

describe("PkiDirectory.plan on an empty directory", () => {
  test("plans CA, admin and member files; commit writes them with modes 0600/0644 in a 0700 directory", () => {
    // GIVEN a directory that does not exist yet
    const dir = path.join(temporaryDirectory("pki-directory-test-"), "nested", "pki");
    // WHEN a plan is made
    const plan = pkiDirectory(dir).plan([member(1)]);
    // THEN nothing is written until commit, and the plan lists keys before their certificates
    expect(fs.existsSync(dir)).toBe(false);
    expect(writesOf(dir, plan.pendingWrites)).toEqual([
      ["ca-key.pem", KEY_MODE],
      ["ca.pem", CERT_MODE],
      ["admin-key.pem", KEY_MODE],
      ["admin.pem", CERT_MODE],
      ["m1-key.pem", KEY_MODE],
      ["m1.pem", CERT_MODE],
      [".gitignore", CERT_MODE],
    ]);

    // WHEN it is committed
    plan.commit();
    // THEN exactly those files exist (no temporary leftovers), with their modes and the planned contents
    expect(modeOf(dir)).toBe(0o700);
    expect(fs.readdirSync(dir).sort()).toEqual([
      ".gitignore",
      "admin-key.pem",
      "admin.pem",
      "ca-key.pem",
      "ca.pem",
      "m1-key.pem",
      "m1.pem",
    ]);
    // AND the directory ignores itself, so git never offers its keys for a commit
    expect(fs.readFileSync(path.join(dir, ".gitignore"), "utf8")).toMatch(/^\*$/m);
    for (const { path: file, mode } of plan.pendingWrites) expect(modeOf(file)).toBe(mode);
    const { material } = plan;
    expect(fs.readFileSync(material.paths.caCert, "utf8")).toBe(material.caCertPem);
    expect(fs.readFileSync(material.paths.adminCert, "utf8")).toBe(material.admin.certPem);
    expect(fs.readFileSync(material.paths.adminKey, "utf8")).toBe(material.admin.keyPem);
    expect(fs.readFileSync(path.join(dir, "m1.pem"), "utf8")).toBe(material.members.get("m1")!.certPem);
    expect(fs.readFileSync(path.join(dir, "m1-key.pem"), "utf8")).toBe(material.members.get("m1")!.keyPem);
    expect(material.paths.directory).toBe(dir);
  });

  test("keys are PKCS#1 RSA of keySize; the CA is etcd-ca; admin and members get their usages", () => {
    // GIVEN the base directory's material
    const { caCertPem, admin, members } = baseMaterial;
    // WHEN it is read back
    // THEN keys are "RSA PRIVATE KEY" 2048-bit, as cfssl writes them
    for (const { keyPem } of [admin, ...members.values()]) {
      expect(keyPem).toMatch(/^-{5}BEGIN RSA PRIVATE KEY-{5}\n/);
      expect(createPrivateKey(keyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    }
    expect(describeCertificate(caCertPem)).toMatchObject({ commonName: "etcd-ca", isCa: true });
    expect(describeCertificate(admin.certPem)).toMatchObject({
      commonName: "admin",
      extKeyUsage: ["clientAuth"],
      ipAddresses: [],
      dnsNames: [],
    });
    expect(describeCertificate(members.get("m2")!.certPem)).toMatchObject({
      commonName: "m2",
      issuerCommonName: "etcd-ca",
      ipAddresses: ["10.0.0.2", "127.0.0.1"],
      dnsNames: ["localhost"],
      extKeyUsage: ["serverAuth", "clientAuth"],
    });
    expect([...members.keys()]).toEqual(["m1", "m2", "m3"]);
  });

  test("notBefore is the clock minus an hour, notAfter that plus the validity; serials are positive 16-byte and unique", () => {
    // GIVEN the base directory, planned at NOW
    const certificates = [baseMaterial.caCertPem, baseMaterial.admin.certPem, ...[...baseMaterial.members.values()].map((m) => m.certPem)];
    const infos = certificates.map(describeCertificate);
    // WHEN validity and serials are read
    const notBefore = new Date(NOW.getTime() - 3_600_000);
    // THEN they follow the options
    expect(infos[0]).toMatchObject({ notBefore, notAfter: new Date(notBefore.getTime() + 3650 * DAY_MS) });
    for (const info of infos.slice(1)) {
      expect(info).toMatchObject({ notBefore, notAfter: new Date(notBefore.getTime() + 825 * DAY_MS) });
    }
    for (const { serialHex } of infos) expect(serialHex).toMatch(/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
    expect(new Set(infos.map((info) => info.serialHex)).size).toBe(infos.length);
  });

  test("a certificate never outlives its CA", () => {
    // GIVEN a CA valid for 10 days and certificates asked for 825
    const dir = path.join(temporaryDirectory("pki-directory-test-"), "pki");
    // WHEN the admin certificate is issued
    const { material } = pkiDirectory(dir, { caValidityDays: 10 }).plan([]);
    // THEN it ends with the CA
    expect(describeCertificate(material.admin.certPem).notAfter).toEqual(describeCertificate(material.caCertPem).notAfter);
  });

  test("the CA private key appears nowhere in the material", () => {
    // GIVEN the base directory and its CA key
    const caKeyBody = fs.readFileSync(path.join(base, "ca-key.pem"), "utf8").split("\n")[1]!;
    // WHEN every string in the material is collected
    const strings = [
      baseMaterial.caCertPem,
      baseMaterial.caFingerprintSha256,
      baseMaterial.admin.certPem,
      baseMaterial.admin.keyPem,
      ...[...baseMaterial.members.values()].flatMap((m) => [m.certPem, m.keyPem]),
      baseMaterial.paths.directory,
      baseMaterial.paths.caCert,
      baseMaterial.paths.adminCert,
      baseMaterial.paths.adminKey,
      ...baseMaterial.paths.memberKeys.values(),
    ];
    // THEN none holds the CA key, and the material has no field for it
    expect(strings.filter((s) => s.includes(caKeyBody))).toEqual([]);
    expect(Object.keys(baseMaterial).sort()).toEqual(["admin", "caCertPem", "caFingerprintSha256", "members", "paths"]);
  });
});

describe("PkiDirectory.plan on an existing directory", () => {
  test("an unchanged directory gives byte-identical material and no writes, also later within validity", () => {
    // GIVEN the committed base directory
    const dir = copyOfBase();
    // WHEN it is planned again, now and 800 days later
    const again = pkiDirectory(dir).plan(MEMBERS);
    const later = pkiDirectory(dir, { clock: () => new Date(NOW.getTime() + 800 * DAY_MS) }).plan(MEMBERS);
    // THEN nothing changes
    expect(again.pendingWrites).toEqual([]);
    expect(later.pendingWrites).toEqual([]);
    expect(again.material).toEqual({ ...baseMaterial, paths: { ...baseMaterial.paths, ...pathsIn(dir) } });
    expect(later.material.members).toEqual(baseMaterial.members);
  });

  test("SANs in another order change nothing", () => {
    // GIVEN the committed base directory
    const dir = copyOfBase();
    // WHEN m1's SANs are requested in another order
    const reordered = [{ ...member(1), ipAddresses: ["127.0.0.1", "10.0.0.1"] }, member(2), member(3)];
    // THEN nothing is reissued
    expect(pkiDirectory(dir).plan(reordered).pendingWrites).toEqual([]);
  });

  test("adding a member writes only its key and certificate", () => {
    // GIVEN the committed base directory
    const dir = copyOfBase();
    // WHEN a fourth member is planned and committed
    const plan = pkiDirectory(dir).plan([...MEMBERS, member(4)]);
    plan.commit();
    // THEN only m4's files are written; the others are as before
    expect(writesOf(dir, plan.pendingWrites)).toEqual([
      ["m4-key.pem", KEY_MODE],
      ["m4.pem", CERT_MODE],
    ]);
    for (const name of ["m1", "m2", "m3"]) expect(plan.material.members.get(name)).toEqual(baseMaterial.members.get(name));
    expect(plan.material.admin).toEqual(baseMaterial.admin);
    expect(describeCertificate(plan.material.members.get("m4")!.certPem).ipAddresses).toEqual(["10.0.0.4", "127.0.0.1"]);
    expect(fs.readdirSync(dir).sort()).toEqual([...fs.readdirSync(base), "m4-key.pem", "m4.pem"].sort());
  });

  test("changing a member's SANs reissues only its certificate, with the same key", () => {
    // GIVEN the committed base directory
    const dir = copyOfBase();
    // WHEN m2 asks for an extra DNS name
    const plan = pkiDirectory(dir).plan([member(1), member(2, ["localhost", "etcd.example.com"]), member(3)]);
    plan.commit();
    // THEN m2.pem alone is rewritten, for the key m2 had
    expect(writesOf(dir, plan.pendingWrites)).toEqual([["m2.pem", CERT_MODE]]);
    const m2 = plan.material.members.get("m2")!;
    expect(m2.keyPem).toBe(baseMaterial.members.get("m2")!.keyPem);
    expect(new X509Certificate(m2.certPem).checkPrivateKey(createPrivateKey(m2.keyPem))).toBe(true);
    expect(describeCertificate(m2.certPem).dnsNames).toEqual(["localhost", "etcd.example.com"]);
    expect(fs.readFileSync(path.join(dir, "m2.pem"), "utf8")).toBe(m2.certPem);
    expect(modeOf(path.join(dir, "m2.pem"))).toBe(CERT_MODE);
    expect(plan.material.members.get("m1")).toEqual(baseMaterial.members.get("m1"));
  });

  test("expired certificates are reissued with their keys; the CA is kept", () => {
    // GIVEN the committed base directory, and a clock past the certificates' 825 days
    const dir = copyOfBase();
    // WHEN it is planned
    const plan = pkiDirectory(dir, { clock: () => new Date(NOW.getTime() + 826 * DAY_MS) }).plan(MEMBERS);
    // THEN every certificate but the CA's is rewritten, and no key
    expect(writesOf(dir, plan.pendingWrites)).toEqual([
      ["admin.pem", CERT_MODE],
      ["m1.pem", CERT_MODE],
      ["m2.pem", CERT_MODE],
      ["m3.pem", CERT_MODE],
    ]);
    expect(plan.material.caCertPem).toBe(baseMaterial.caCertPem);
  });

  test("certificates of another CA are reissued for the new CA with their keys", () => {
    // GIVEN the committed base directory without its CA
    const dir = copyOfBase();
    fs.rmSync(path.join(dir, "ca.pem"));
    fs.rmSync(path.join(dir, "ca-key.pem"));
    // WHEN it is planned
    const plan = pkiDirectory(dir).plan(MEMBERS);
    // THEN a new CA is made and every certificate re-signed by it, keys kept
    expect(writesOf(dir, plan.pendingWrites)).toEqual([
      ["ca-key.pem", KEY_MODE],
      ["ca.pem", CERT_MODE],
      ["admin.pem", CERT_MODE],
      ["m1.pem", CERT_MODE],
      ["m2.pem", CERT_MODE],
      ["m3.pem", CERT_MODE],
    ]);
    const ca = new X509Certificate(plan.material.caCertPem);
    for (const { certPem, keyPem } of plan.material.members.values()) {
      expect(new X509Certificate(certPem).verify(ca.publicKey)).toBe(true);
      expect([...baseMaterial.members.values()].map((m) => m.keyPem)).toContain(keyPem);
    }
  });

  test.each([
    ["a key that does not match the certificate", (file: string) => fs.writeFileSync(file, rsaKeyPem()), [["m1.pem", CERT_MODE]]],
    [
      "a missing key",
      (file: string) => fs.rmSync(file),
      [
        ["m1-key.pem", KEY_MODE],
        ["m1.pem", CERT_MODE],
      ],
    ],
    [
      "an EC key",
      (file: string) => fs.writeFileSync(file, ecKeyPem()),
      [
        ["m1-key.pem", KEY_MODE],
        ["m1.pem", CERT_MODE],
      ],
    ],
  ])("m1 with %s gets a certificate for its (new) key", (_, change, expectedWrites) => {
    // GIVEN the committed base directory with m1-key.pem changed
    const dir = copyOfBase();
    change(path.join(dir, "m1-key.pem"));
    // WHEN it is planned and committed
    const plan = pkiDirectory(dir).plan(MEMBERS);
    plan.commit();
    // THEN m1's certificate matches the key now on disk, and nothing else changed
    expect(writesOf(dir, plan.pendingWrites)).toEqual(expectedWrites);
    const m1 = plan.material.members.get("m1")!;
    expect(fs.readFileSync(path.join(dir, "m1-key.pem"), "utf8")).toBe(m1.keyPem);
    expect(new X509Certificate(m1.certPem).checkPrivateKey(createPrivateKey(m1.keyPem))).toBe(true);
    expect(pkiDirectory(dir).plan(MEMBERS).pendingWrites).toEqual([]);
  });

  test("PKCS#8 keys are accepted as they are", () => {
    // GIVEN the committed base directory with the CA and m1 keys rewritten as PKCS#8
    const dir = copyOfBase();
    for (const file of ["ca-key.pem", "m1-key.pem"]) {
      const pkcs8 = createPrivateKey(fs.readFileSync(path.join(dir, file))).export({ type: "pkcs8", format: "pem" });
      fs.writeFileSync(path.join(dir, file), pkcs8);
    }
    // WHEN it is planned, and planned with a new member
    const same = pkiDirectory(dir).plan(MEMBERS);
    const grown = pkiDirectory(dir).plan([...MEMBERS, member(4)]);
    // THEN the PKCS#8 keys are reused unchanged, and the PKCS#8 CA key signs the new member
    expect(same.pendingWrites).toEqual([]);
    expect(same.material.members.get("m1")!.keyPem).toMatch(/^-{5}BEGIN PRIVATE KEY-{5}\n/);
    expect(writesOf(dir, grown.pendingWrites)).toEqual([
      ["m4-key.pem", KEY_MODE],
      ["m4.pem", CERT_MODE],
    ]);
    const ca = new X509Certificate(grown.material.caCertPem);
    expect(new X509Certificate(grown.material.members.get("m4")!.certPem).verify(ca.publicKey)).toBe(true);
  });

  test("the committed fixture PKI is up to date with make-fixture-pki.ts", () => {
    // GIVEN test/fixtures/insecure-test-pki and the options that made it
    // WHEN it is planned as the script does
    const plan = new PkiDirectory(FIXTURE_PKI_OPTIONS).plan(FIXTURE_MEMBERS);
    // THEN nothing would be written
    expect(plan.pendingWrites).toEqual([]);
    expect([...plan.material.members.keys()]).toEqual(["etcd_node1", "etcd_node2", "etcd_node3", "etcd_node4", "etcd_node5"]);
  });
});

describe("PkiDirectory rejects", () => {
  const expired = selfSignCa({
    keyPem: fixture("ca-key.pem"),
    commonName: "etcd-ca",
    serialHex: "01",
    notBefore: new Date("2020-01-01T00:00:00Z"),
    notAfter: new Date("2021-01-01T00:00:00Z"),
  });
  const encrypted = createPrivateKey(fixture("ca-key.pem")).export({
    type: "pkcs8",
    format: "pem",
    cipher: "aes-256-cbc",
    passphrase: "secret",
  }) as string;
  test.each<[string, Record<string, string>, string, RegExp]>([
    ["ca.pem without ca-key.pem", { "ca.pem": fixture("ca.pem") }, "ca-key.pem", /is missing.*delete ca\.pem to have a new CA created/],
    [
      "ca-key.pem without ca.pem",
      { "ca-key.pem": fixture("ca-key.pem") },
      "ca.pem",
      /is missing.*delete ca-key\.pem to have a new CA created/,
    ],
    [
      "a mismatched pair",
      { "ca.pem": fixture("ca.pem"), "ca-key.pem": fixture("etcd_node1-key.pem") },
      "ca-key.pem",
      /does not belong to .*ca\.pem.*matching certificate and key/,
    ],
    [
      "an ECDSA CA key (cfssl's default)",
      { "ca.pem": fixture("ca.pem"), "ca-key.pem": ecKeyPem() },
      "ca-key.pem",
      /is not an RSA key \(it is EC\).*RSA only.*"key": \{"algo": "rsa", "size": 2048\}/,
    ],
    ["an encrypted CA key", { "ca.pem": fixture("ca.pem"), "ca-key.pem": encrypted }, "ca-key.pem", /is encrypted.*openssl pkey/],
    [
      "a CA key that is not PEM",
      { "ca.pem": fixture("ca.pem"), "ca-key.pem": "garbage" },
      "ca-key.pem",
      /not a PEM private key.*cfssljson -bare ca/,
    ],
    [
      "a CA certificate that is not PEM",
      { "ca.pem": "garbage", "ca-key.pem": fixture("ca-key.pem") },
      "ca.pem",
      /not a PEM certificate.*cfssljson -bare ca/,
    ],
    [
      "a CA certificate that is no CA",
      { "ca.pem": fixture("etcd_node1.pem"), "ca-key.pem": fixture("etcd_node1-key.pem") },
      "ca.pem",
      /not a CA certificate.*cfssl gencert -initca/,
    ],
    ["an expired CA", { "ca.pem": expired, "ca-key.pem": fixture("ca-key.pem") }, "ca.pem", /expired on 2021-01-01.*-renewca/],
  ])("%s, naming the file and the fix", (_, files, named, fix) => {
    // GIVEN a directory with a bad CA
    const dir = temporaryDirectory("pki-directory-test-");
    for (const [file, contents] of Object.entries(files)) write(dir, file, contents);
    // WHEN it is planned
    const error = errorOf(() => pkiDirectory(dir).plan(MEMBERS));
    // THEN a PkiError names the file, what is wrong and the fix
    expect(error).toBeInstanceOf(PkiError);
    expect(error.message).toContain(path.join(dir, named));
    expect(error.message).toMatch(fix);
  });
});

function pathsIn(dir: string) {
  return {
    directory: dir,
    caCert: path.join(dir, "ca.pem"),
    adminCert: path.join(dir, "admin.pem"),
    adminKey: path.join(dir, "admin-key.pem"),
    memberKeys: new Map(MEMBERS.map((m) => [m.name, path.join(dir, `${m.name}-key.pem`)])),
  };
}

function rsaKeyPem(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs1",
    format: "pem",
  }) as string;
}

// SEC1 "EC PRIVATE KEY", as cfssl writes ECDSA keys.
function ecKeyPem(): string {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({
    type: "sec1",
    format: "pem",
  }) as string;
}

function errorOf(action: () => unknown): Error {
  try {
    action();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}
