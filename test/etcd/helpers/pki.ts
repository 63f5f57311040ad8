import { execFileSync } from "child_process";
import { existsSync, readFileSync, writeFileSync } from "fs";
import { join } from "path";
import { requireTool } from "../../support/tools";

/** PEM files of a CA, a member certificate (server and client use, SAN 127.0.0.1) and an admin client. */
export interface TestPki {
  readonly caCert: string;
  readonly memberCert: string;
  readonly memberKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
}

const FIXTURE_DIR = join(__dirname, "..", "..", "fixtures", "insecure-test-pki");
const FIXTURE: TestPki = {
  caCert: join(FIXTURE_DIR, "ca.pem"),
  memberCert: join(FIXTURE_DIR, "etcd_node1.pem"),
  memberKey: join(FIXTURE_DIR, "etcd_node1-key.pem"),
  adminCert: join(FIXTURE_DIR, "admin.pem"),
  adminKey: join(FIXTURE_DIR, "admin-key.pem"),
};

/** The shared fixture PKI when it is complete, otherwise a throwaway one made with openssl in `dir`. */
export function testPki(dir: string): TestPki {
  if (Object.values(FIXTURE).every((path) => existsSync(path))) return FIXTURE;
  return opensslPki(dir, 2048);
}

/** A throwaway PKI whose member key has `memberKeyBits` bits. */
export function opensslPki(dir: string, memberKeyBits: number): TestPki {
  const openssl = requireTool("openssl", "openssl");
  const run = (...args: string[]) => execFileSync(openssl, args, { cwd: dir, stdio: "pipe" });
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=test-etcd-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign"
  );
  const issue = (name: string, bits: number, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    run("req", "-new", "-newkey", `rsa:${bits}`, "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`
    );
  };
  issue(
    "etcd_node1",
    memberKeyBits,
    "subjectAltName=IP:127.0.0.1,IP:172.16.0.101,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
  );
  issue("admin", 2048, "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
  return {
    caCert: join(dir, "ca.pem"),
    memberCert: join(dir, "etcd_node1.pem"),
    memberKey: join(dir, "etcd_node1-key.pem"),
    adminCert: join(dir, "admin.pem"),
    adminKey: join(dir, "admin-key.pem"),
  };
}

export function readPem(path: string): string {
  return readFileSync(path, "utf8");
}
