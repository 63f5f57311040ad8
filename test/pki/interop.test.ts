// The PKI against real tools: openssl (as a TLS stack would check), cfssl certinfo (Go's x509 parser,
// which etcd uses and which is stricter than forge and openssl), and a CA made by cfssl.
// A missing tool fails the test with the Debian package to install: these checks must not be skipped.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import forge from "node-forge";
import { type MemberCertificateRequest, PkiDirectory, PkiError } from "../../lib/pki/pki-directory";
import { temporaryDirectory } from "../support/temp";

const DEBIAN_PACKAGE: Record<string, string> = { openssl: "openssl", cfssl: "golang-cfssl", cfssljson: "golang-cfssl" };

interface ToolFailure extends NodeJS.ErrnoException {
  status: number | null;
  stdout: string;
  stderr: string;
}

function missingTool(command: string): Error {
  return new Error(`${command} is not installed: apt-get install ${DEBIAN_PACKAGE[command]}`);
}

function isInstalled(command: string): boolean {
  try {
    execFileSync(command, ["version"], { stdio: "ignore" });
    return true;
  } catch (e) {
    return (e as ToolFailure).code !== "ENOENT";
  }
}

/** Runs a tool and returns its stdout; throws, naming the Debian package, when it is missing. */
function run(command: string, args: string[], options: { cwd?: string; input?: string } = {}): string {
  try {
    return execFileSync(command, args, { ...options, encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    const failure = e as ToolFailure;
    if (failure.code === "ENOENT") throw missingTool(command);
    throw new Error(`${command} ${args.join(" ")} exited with ${failure.status}:\n${failure.stdout}${failure.stderr}`);
  }
}

/** Runs a tool expected to fail: its exit status and all output. */
function runFailing(command: string, args: string[]): { status: number | null; output: string } {
  try {
    const stdout = execFileSync(command, args, { encoding: "utf8", stdio: "pipe" });
    return { status: 0, output: stdout };
  } catch (e) {
    const failure = e as ToolFailure;
    if (failure.code === "ENOENT") throw missingTool(command);
    return { status: failure.status, output: `${failure.stdout}${failure.stderr}` };
  }
}

/** `cfssl certinfo`: Go's crypto/x509 parses the certificate, or cfssl prints an error object. */
function goCertInfo(certFile: string): Record<string, unknown> {
  const info = JSON.parse(run("cfssl", ["certinfo", "-cert", certFile])) as Record<string, unknown>;
  if ("code" in info) throw new Error(`Go's x509 rejects ${certFile}: ${JSON.stringify(info)}`);
  return info;
}

const MEMBERS: MemberCertificateRequest[] = [1, 2].map((n) => ({
  name: `etcd_node${n}`,
  ipAddresses: [`172.16.0.10${n}`, "127.0.0.1"],
  dnsNames: ["localhost"],
}));

function planAndCommit(directory: string): void {
  new PkiDirectory({ directory, keySize: 2048, caValidityDays: 3650, certificateValidityDays: 825 }).plan(MEMBERS).commit();
}

describe("certificates from a new PKI directory", () => {
  let dir: string;
  beforeAll(() => {
    dir = temporaryDirectory("pki-interop-test-");
    planAndCommit(dir);
  });
  const file = (name: string) => path.join(dir, name);

  test.each(MEMBERS.map((m) => m.name))("%s verifies against ca.pem as TLS server and as TLS client", (name) => {
    // GIVEN a member certificate
    // WHEN openssl verifies it for each purpose
    // THEN both pass
    for (const purpose of ["sslserver", "sslclient"]) {
      expect(run("openssl", ["verify", "-CAfile", file("ca.pem"), "-purpose", purpose, file(`${name}.pem`)])).toBe(
        `${file(`${name}.pem`)}: OK\n`
      );
    }
  });

  test("admin verifies as TLS client and not as TLS server", () => {
    // GIVEN the admin certificate
    // WHEN openssl verifies it for each purpose
    const asClient = run("openssl", ["verify", "-CAfile", file("ca.pem"), "-purpose", "sslclient", file("admin.pem")]);
    const asServer = runFailing("openssl", ["verify", "-CAfile", file("ca.pem"), "-purpose", "sslserver", file("admin.pem")]);
    // THEN only the client purpose passes
    expect(asClient).toBe(`${file("admin.pem")}: OK\n`);
    expect(asServer.status).not.toBe(0);
    expect(asServer.output).toMatch(/unsuitable certificate purpose|unsupported certificate purpose/);
  });

  test("openssl shows the member's SANs, server+client EKU, CA:FALSE and sha256WithRSAEncryption", () => {
    // GIVEN a member certificate
    // WHEN openssl prints it
    const text = run("openssl", ["x509", "-in", file("etcd_node1.pem"), "-noout", "-ext", "subjectAltName,extendedKeyUsage", "-text"]);
    const constraints = run("openssl", ["x509", "-in", file("etcd_node1.pem"), "-noout", "-ext", "basicConstraints,keyUsage"]);
    // THEN it shows what etcd needs
    expect(text).toContain("DNS:localhost, IP Address:172.16.0.101, IP Address:127.0.0.1");
    expect(text).toContain("TLS Web Server Authentication, TLS Web Client Authentication");
    expect(text).toContain("Signature Algorithm: sha256WithRSAEncryption");
    expect(constraints).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(constraints).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
  });

  test("openssl shows the admin's client-only EKU and no SANs", () => {
    // GIVEN the admin certificate
    // WHEN openssl prints it
    const text = run("openssl", ["x509", "-in", file("admin.pem"), "-noout", "-ext", "subjectAltName,extendedKeyUsage", "-text"]);
    // THEN it is a client certificate
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(text).not.toContain("Subject Alternative Name");
    expect(text).toContain("Signature Algorithm: sha256WithRSAEncryption");
  });

  test.each(["ca.pem", "admin.pem", "etcd_node1.pem"])("Go's x509 (cfssl certinfo) parses %s", (name) => {
    // GIVEN a certificate with "_" in a member name, which Go rejects in a PrintableString
    // WHEN cfssl parses it
    const info = goCertInfo(file(name));
    // THEN Go accepts it as a SHA-256 RSA certificate
    expect(info.sigalg).toBe("SHA256WithRSA");
  });
});

describe("a CA made by cfssl, dropped into the directory", () => {
  // RSA, as the library needs; a UTF-8 locality, which forge would re-encode wrongly as an issuer.
  const CA_CSR = {
    CN: "Example etcd CA",
    key: { algo: "rsa", size: 2048 },
    names: [{ C: "CH", L: "Zürich", O: "Example AG", OU: "Platform" }],
  };
  let dir: string;
  let pendingCaWrites: string[];
  beforeAll(() => {
    dir = temporaryDirectory("pki-interop-test-");
    initCa(dir, CA_CSR);
    const plan = new PkiDirectory({
      directory: dir,
      keySize: 2048,
      caValidityDays: 3650,
      certificateValidityDays: 825,
    }).plan(MEMBERS);
    pendingCaWrites = plan.pendingWrites.map((w) => path.basename(w.path)).filter((name) => name.startsWith("ca"));
    plan.commit();
  });
  const file = (name: string) => path.join(dir, name);

  test("is used as it is", () => {
    // GIVEN the cfssl CA in the directory
    // WHEN members were planned
    // THEN the CA files were not rewritten
    expect(pendingCaWrites).toEqual([]);
  });

  test.each(MEMBERS.map((m) => m.name))("%s verifies against the cfssl CA as TLS server and client", (name) => {
    // GIVEN a member certificate issued by the cfssl CA
    // WHEN openssl verifies it
    // THEN both purposes pass
    for (const purpose of ["sslserver", "sslclient"]) {
      expect(run("openssl", ["verify", "-CAfile", file("ca.pem"), "-purpose", purpose, file(`${name}.pem`)])).toContain(": OK");
    }
  });

  test("a member's issuer is the cfssl CA's subject byte for byte, and its AKI the CA's SKI (per Go)", () => {
    // GIVEN a member certificate and the cfssl CA
    // WHEN their raw names and key identifiers are read
    const memberInfo = goCertInfo(file("etcd_node1.pem"));
    const caInfo = goCertInfo(file("ca.pem"));
    // THEN Go's byte-wise parent lookup finds the CA
    expect(rawName(file("etcd_node1.pem"), 3)).toBe(rawName(file("ca.pem"), 5));
    expect(memberInfo.authority_key_id).toBe(caInfo.subject_key_id);
    expect((memberInfo.issuer as { locality: string }).locality).toBe("Zürich");
  });

  test("cfssl's default ECDSA CA is refused, naming ca-key.pem and the RSA fix", () => {
    // GIVEN a CA made by cfssl without a key spec (ECDSA P-256)
    const ecDir = temporaryDirectory("pki-interop-test-");
    initCa(ecDir, { CN: "Example etcd CA" });
    // WHEN members are planned
    const plan = () =>
      new PkiDirectory({ directory: ecDir, keySize: 2048, caValidityDays: 3650, certificateValidityDays: 825 }).plan(MEMBERS);
    // THEN a PkiError says what to do
    expect(plan).toThrow(PkiError);
    expect(plan).toThrow(`${path.join(ecDir, "ca-key.pem")} is not an RSA key (it is EC)`);
    expect(plan).toThrow('"key": {"algo": "rsa", "size": 2048}');
  });
});

/** `cfssl gencert -initca`, written as ca.pem/ca-key.pem by cfssljson if installed, else from cfssl's JSON. */
function initCa(dir: string, csr: object): void {
  fs.writeFileSync(path.join(dir, "ca-csr.json"), JSON.stringify(csr));
  const output = run("cfssl", ["gencert", "-initca", "ca-csr.json"], { cwd: dir });
  if (isInstalled("cfssljson")) {
    run("cfssljson", ["-bare", "ca"], { cwd: dir, input: output });
  } else {
    const { cert, key } = JSON.parse(output) as { cert: string; key: string };
    fs.writeFileSync(path.join(dir, "ca.pem"), cert);
    fs.writeFileSync(path.join(dir, "ca-key.pem"), key, { mode: 0o600 });
  }
}

// The TBSCertificate's raw issuer (index 3) or subject (index 5), as DER hex.
function rawName(certFile: string, index: 3 | 5): string {
  const certificate = forge.asn1.fromDer(forge.pem.decode(fs.readFileSync(certFile, "utf8"))[0]!.body);
  const tbs = (certificate.value as forge.asn1.Asn1[])[0]!;
  return forge.asn1.toDer((tbs.value as forge.asn1.Asn1[])[index]!).toHex();
}
