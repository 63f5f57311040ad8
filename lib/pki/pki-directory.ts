// The PKI directory in cfssl's file naming. The only part of the PKI that touches files, the clock or
// randomness: it decides what to reuse and what to issue, and certificate.ts builds the certificates.
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type CertificateAuthority,
  type CertificateInfo,
  type CertificateSpec,
  certificateSatisfies,
  describeCertificate,
  issueCertificate,
  selfSignCa,
} from "./certificate";
import { PkiError } from "./pki-error";
import { ADMIN, CA, certFile, filesOf, keyFile } from "./pki-files";
import { generateRsaKeyPem, generateRsaKeyPems } from "./rsa-keys";

export { PkiError } from "./pki-error";

export interface PkiDirectoryOptions {
  readonly directory: string;
  /** RSA modulus length of keys generated here: 2048, 3072 or 4096. Existing keys are kept whatever their size. */
  readonly keySize: number;
  readonly caValidityDays: number;
  readonly certificateValidityDays: number;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

export interface MemberCertificateRequest {
  /** Also the file name: `<name>.pem`, `<name>-key.pem`. */
  readonly name: string;
  readonly ipAddresses: readonly string[];
  readonly dnsNames: readonly string[];
}

export interface CertifiedKey {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface PkiMaterial {
  readonly caCertPem: string;
  readonly caFingerprintSha256: string;
  readonly admin: CertifiedKey;
  /** The requested members, in request order. */
  readonly members: ReadonlyMap<string, CertifiedKey>;
  /** Paths in `directory` as given (relative if it is). */
  readonly paths: {
    readonly directory: string;
    readonly caCert: string;
    readonly adminCert: string;
    readonly adminKey: string;
    /** Each requested member's private key file, by member name. */
    readonly memberKeys: ReadonlyMap<string, string>;
  };
}

export interface PendingWrite {
  readonly path: string;
  readonly mode: number;
}

export interface PkiPlan {
  /** Never holds the CA private key. */
  readonly material: PkiMaterial;
  /** What commit() will write, keys before their certificates. Empty when the directory is up to date. */
  readonly pendingWrites: readonly PendingWrite[];
  /** Writes the pending files (directory 0700, keys 0600, certificates 0644), each atomically. */
  commit(): void;
}

const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DIR_MODE = 0o700;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const CA_COMMON_NAME = "etcd-ca";
const GITIGNORE = "# Written by cdktf-etcd-cluster. This directory holds the CA's and the members' private keys: never commit it.\n*\n";

interface FileWrite extends PendingWrite {
  readonly contents: string;
}

/** What one plan() call has decided so far. */
interface Planning {
  readonly now: Date;
  readonly writes: FileWrite[];
}

interface LoadedCa {
  readonly authority: CertificateAuthority;
  readonly x509: X509Certificate;
  readonly notAfter: Date;
  readonly fingerprintSha256: string;
}

export class PkiDirectory {
  private readonly clock: () => Date;
  private freshKeys: string[] = [];

  // The options and member names come resolved and checked (lib/config): this trusts them.
  constructor(private readonly options: PkiDirectoryOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Loads what exists and is still right, issues what is missing or wrong, in memory. Writes nothing. */
  plan(members: readonly MemberCertificateRequest[]): PkiPlan {
    const planning: Planning = { now: this.clock(), writes: [] };
    this.freshKeys = generateRsaKeyPems(this.missingKeyCount(members), this.options.keySize);
    const ca = this.loadOrCreateCa(planning);
    const admin = this.certifiedKey(ADMIN, { commonName: ADMIN, ipAddresses: [], dnsNames: [], usage: "client" }, ca, planning);
    const memberMaterial = new Map(
      members.map((member) => [
        member.name,
        this.certifiedKey(
          member.name,
          {
            commonName: member.name,
            ipAddresses: member.ipAddresses,
            dnsNames: member.dnsNames,
            usage: "peer-and-server",
          },
          ca,
          planning
        ),
      ])
    );
    const { directory } = this.options;
    // The directory ignores itself: its keys can never be committed by accident, wherever it lives.
    if (readIfExists(this.file(".gitignore")) === undefined) {
      planning.writes.push({ path: this.file(".gitignore"), mode: CERT_MODE, contents: GITIGNORE });
    }
    const writes = planning.writes;
    return {
      material: {
        caCertPem: ca.authority.certPem,
        caFingerprintSha256: ca.fingerprintSha256,
        admin,
        members: memberMaterial,
        paths: {
          directory,
          caCert: this.file(certFile(CA)),
          adminCert: this.file(certFile(ADMIN)),
          adminKey: this.file(keyFile(ADMIN)),
          memberKeys: new Map(members.map((m) => [m.name, this.file(keyFile(m.name))])),
        },
      },
      pendingWrites: writes.map(({ path: file, mode }) => ({ path: file, mode })),
      commit: () => commitFiles(directory, writes),
    };
  }

  /** The CA in the directory, checked, or a new one when there is none. */
  private loadOrCreateCa(planning: Planning): LoadedCa {
    const certPath = this.file(certFile(CA));
    const keyPath = this.file(keyFile(CA));
    const certPem = readIfExists(certPath);
    const keyPem = readIfExists(keyPath);
    if (certPem === undefined && keyPem === undefined) return this.createCa(certPath, keyPath, planning);
    const reissue = "to have a new CA created (which reissues every certificate)";
    if (keyPem === undefined) {
      throw new PkiError(
        `${keyPath} is missing, but ${certPath} exists: a CA cannot sign without its private key. ` +
          `Put the CA's private key next to it as ca-key.pem, or delete ca.pem ${reissue}.`
      );
    }
    if (certPem === undefined) {
      throw new PkiError(
        `${certPath} is missing, but ${keyPath} exists. Put the CA certificate next to it as ca.pem, or delete ca-key.pem ${reissue}.`
      );
    }
    return loadCa({
      certPath,
      certPem,
      keyPath,
      keyPem,
      now: planning.now,
      orRecreate: `or delete ca.pem and ca-key.pem ${reissue}`,
    });
  }

  private createCa(certPath: string, keyPath: string, planning: Planning): LoadedCa {
    const keyPem = this.generateKeyPem();
    const { notBefore, notAfter } = this.validity(planning.now, this.options.caValidityDays);
    const certPem = selfSignCa({
      keyPem,
      commonName: CA_COMMON_NAME,
      serialHex: randomSerialHex(),
      notBefore,
      notAfter,
    });
    planning.writes.push({ path: keyPath, mode: KEY_MODE, contents: keyPem }, { path: certPath, mode: CERT_MODE, contents: certPem });
    return loadedCa(certPem, keyPem);
  }

  /** The stored certificate and key for `name` if they still fit `spec`, else a new certificate (and key, if none is usable). */
  private certifiedKey(name: string, spec: CertificateSpec, ca: LoadedCa, planning: Planning): CertifiedKey {
    const certPath = this.file(certFile(name));
    const keyPath = this.file(keyFile(name));
    const stored = usableKey(readIfExists(keyPath));
    const storedCertPem = readIfExists(certPath);
    if (stored !== undefined && storedCertPem !== undefined && isReusable(storedCertPem, stored.keyObject, spec, ca, planning.now)) {
      return { certPem: storedCertPem, keyPem: stored.pem };
    }

    let key = stored;
    if (key === undefined) {
      const pem = this.generateKeyPem();
      key = { pem, keyObject: createPrivateKey(pem) };
      planning.writes.push({ path: keyPath, mode: KEY_MODE, contents: pem });
    }
    const { notBefore, notAfter } = this.validity(planning.now, this.options.certificateValidityDays, ca.notAfter);
    const certPem = issueCertificate({
      publicKeyPem: createPublicKey(key.keyObject).export({ type: "spki", format: "pem" }) as string,
      ca: ca.authority,
      serialHex: randomSerialHex(),
      notBefore,
      notAfter,
      spec,
    });
    planning.writes.push({ path: certPath, mode: CERT_MODE, contents: certPem });
    return { certPem, keyPem: key.pem };
  }

  // notBefore an hour back, for machines whose clocks run behind this one. A certificate never outlives
  // its CA (as cfssl does): past the CA's expiry it would not verify anyway.
  private validity(now: Date, days: number, cap?: Date): { notBefore: Date; notAfter: Date } {
    const notBefore = new Date(now.getTime() - HOUR_MS);
    const notAfter = new Date(Math.min(notBefore.getTime() + days * DAY_MS, cap?.getTime() ?? Infinity));
    return { notBefore, notAfter };
  }

  /** Keys the plan will have to make: made up front, all at once (see rsa-keys.ts). */
  private missingKeyCount(members: readonly MemberCertificateRequest[]): number {
    const caMissing = filesOf(CA).every((file) => !fs.existsSync(this.file(file))) ? 1 : 0;
    const names = [ADMIN, ...members.map((m) => m.name)];
    return caMissing + names.filter((name) => usableKey(readIfExists(this.file(keyFile(name)))) === undefined).length;
  }

  // PKCS#1, as cfssl writes keys. Native keygen: forge's JavaScript keygen takes seconds.
  private generateKeyPem(): string {
    return this.freshKeys.pop() ?? generateRsaKeyPem(this.options.keySize);
  }

  private file(name: string): string {
    return path.join(this.options.directory, name);
  }
}

/** An existing CA, checked to be one this library can sign with; else a PkiError naming the file and the fix. */
function loadCa(input: { certPath: string; certPem: string; keyPath: string; keyPem: string; now: Date; orRecreate: string }): LoadedCa {
  const { certPath, certPem, keyPath, keyPem, orRecreate } = input;
  if (/^-{5}BEGIN ENCRYPTED PRIVATE KEY-{5}|^Proc-Type: 4,ENCRYPTED/m.test(keyPem)) {
    throw new PkiError(
      `${keyPath} is encrypted, and there is no passphrase to open it. Store it unencrypted ` +
        `(openssl pkey -in ca-key.pem -out ca-key.plain.pem, then replace ca-key.pem with it) and keep the directory private.`
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new PkiError(
      `${keyPath} is not a PEM private key (${(e as Error).message}). ` +
        `Put the CA's PEM private key there (cfssljson -bare ca writes it as ca-key.pem), ${orRecreate}.`
    );
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new PkiError(
      `${keyPath} is not an RSA key (it is ${String(key.asymmetricKeyType).toUpperCase()}), but node-forge signs with RSA only. ` +
        `Create the CA with "key": {"algo": "rsa", "size": 2048} in its cfssl CSR ` +
        `(cfssl gencert -initca ca-csr.json | cfssljson -bare ca), ${orRecreate}.`
    );
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (e) {
    throw new PkiError(
      `${certPath} is not a PEM certificate (${(e as Error).message}). ` +
        `Put the CA certificate there (cfssljson -bare ca writes it as ca.pem), ${orRecreate}.`
    );
  }
  if (!x509.checkPrivateKey(key)) {
    throw new PkiError(
      `${keyPath} does not belong to ${certPath}: they are from different key pairs. ` +
        `Put the CA's matching certificate and key there, ${orRecreate}.`
    );
  }
  if (!x509.ca) {
    throw new PkiError(
      `${certPath} is not a CA certificate (it lacks basicConstraints CA:TRUE). ` +
        `Use a CA certificate such as cfssl gencert -initca makes, ${orRecreate}.`
    );
  }
  const ca = loadedCa(certPem, keyPem);
  if (ca.notAfter <= input.now) {
    throw new PkiError(
      `${certPath} expired on ${ca.notAfter.toISOString()}. Renew it with the same key ` +
        `(cfssl gencert -renewca -ca ca.pem -ca-key ca-key.pem | cfssljson -bare ca), ${orRecreate}.`
    );
  }
  return ca;
}

function loadedCa(certPem: string, keyPem: string): LoadedCa {
  const info = describeCertificate(certPem);
  return {
    authority: { certPem, keyPem },
    x509: new X509Certificate(certPem),
    notAfter: info.notAfter,
    fingerprintSha256: info.fingerprintSha256,
  };
}

/** An RSA key we can issue for, or undefined (missing, unreadable, encrypted, not RSA): then a new key replaces it. */
function usableKey(pem: string | undefined): { pem: string; keyObject: KeyObject } | undefined {
  if (pem === undefined) return undefined;
  try {
    const keyObject = createPrivateKey(pem);
    return keyObject.asymmetricKeyType === "rsa" ? { pem, keyObject } : undefined;
  } catch {
    return undefined;
  }
}

function isReusable(certPem: string, key: KeyObject, spec: CertificateSpec, ca: LoadedCa, now: Date): boolean {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return false;
  }
  if (!cert.checkIssued(ca.x509) || !cert.verify(ca.x509.publicKey) || !cert.checkPrivateKey(key)) return false;
  let info: CertificateInfo;
  try {
    info = describeCertificate(certPem);
  } catch {
    return false; // signed by this CA, but with a key forge cannot read: not one this library made
  }
  return info.notBefore <= now && now < info.notAfter && certificateSatisfies(info, spec);
}

// 16 random bytes, high bit clear so the DER INTEGER is positive, first byte non-zero so it is minimal.
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0] & 0x7f || 0x01;
  return bytes.toString("hex");
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** The mode a file of the PKI directory is written with: private keys 0600, the rest 0644. */
export function pkiFileMode(name: string): number {
  return name.endsWith("-key.pem") ? KEY_MODE : CERT_MODE;
}

/**
 * Writes whole files into a PKI directory (created 0700), each atomically with its kind's mode,
 * and the directory's .gitignore when it has none: what `pki pull` restores.
 */
export function writePkiFiles(directory: string, files: ReadonlyMap<string, string>): void {
  const writes: FileWrite[] = [...files].map(([name, contents]) => ({
    path: path.join(directory, name),
    mode: pkiFileMode(name),
    contents,
  }));
  if (!fs.existsSync(path.join(directory, ".gitignore")))
    writes.push({ path: path.join(directory, ".gitignore"), mode: CERT_MODE, contents: GITIGNORE });
  commitFiles(directory, writes);
}

function commitFiles(directory: string, writes: readonly FileWrite[]): void {
  if (writes.length === 0) return;
  fs.mkdirSync(directory, { recursive: true, mode: DIR_MODE });
  for (const write of writes) writeAtomically(write);
}

// Write a temporary file, then rename it over the target: a reader (or a crash) never sees half a key.
function writeAtomically({ path: file, mode, contents }: FileWrite): void {
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const fd = fs.openSync(temporary, "wx", mode);
    try {
      fs.writeFileSync(fd, contents);
      fs.fchmodSync(fd, mode); // the umask may have narrowed the mode given to openSync
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch (e) {
    fs.rmSync(temporary, { force: true });
    throw e;
  }
}
