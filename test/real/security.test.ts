import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { labDown, type Lab } from "../../lib/lab";
import { PkiDirectory } from "../../lib/pki/pki-directory";
import { LabProject } from "../support/lab-project";
import { SEED } from "../support/synth";
import { requireTool } from "../support/tools";
import { temporaryDirectory as tempDir } from "../support/temp";

// Every refusal here is asserted beside a positive control that succeeds, so a test cannot pass
// because nothing works at all.

const LAB = "etcdsec";
const project = new LabProject(LAB);
const NODE1 = "https://172.16.0.101";
let lab: Lab;
let pki: string;
let outdir: string;
let curl: string;

/** curl from a lab namespace; returns exit code, HTTP status (0 if none) and body. */
async function fetchFrom(where: string, url: string, tls: string[] = []): Promise<{ code: number; status: number; body: string }> {
  const r = await lab.exec(where, [curl, "-sS", "-m", "5", "-o", "-", "-w", "\n%{http_code}", ...tls, url]);
  const lines = r.stdout.trimEnd().split("\n");
  const status = Number(lines.pop());
  return { code: r.code ?? -1, status, body: lines.join("\n") + r.stderr };
}

const file = (name: string) => path.join(pki, name);

/** A read from the deployer namespace presenting `cert`/`key`; asserts etcd gave nothing back. */
async function expectRefusedWith(cert: string, key: string): Promise<void> {
  const r = await fetchFrom("deployer", `${NODE1}:2379/v3/kv/range`, [
    "--cacert",
    file("ca.pem"),
    "--cert",
    cert,
    "--key",
    key,
    "-d",
    '{"key":"Zm9v"}',
  ]);
  expect(r.code).not.toBe(0);
  expect(r.body).not.toMatch(/cluster_id/);
}
const admin = () => ["--cacert", file("ca.pem"), "--cert", file("admin.pem"), "--key", file("admin-key.pem")];

beforeAll(async () => {
  curl = requireTool("curl", "curl");
  requireTool("openssl", "openssl");
  await labDown(LAB, { log: () => undefined });
  pki = project.pki;
  outdir = project.outdir;
  project.synth(SEED);
  lab = await project.deploy();
});

afterAll(() => project.remove());

describe("clients must present a certificate from the cluster's CA with clientAuth, over TLS", () => {
  test("GIVEN the admin certificate THEN a read succeeds (the positive control)", async () => {
    const ok = await fetchFrom("deployer", `${NODE1}:2379/v3/kv/range`, [...admin(), "-d", '{"key":"Zm9v"}']);
    expect([ok.code, ok.status]).toEqual([0, 200]);
    expect(JSON.parse(ok.body).header.cluster_id).toBeDefined();
  });

  test("GIVEN no client certificate THEN the TLS handshake is refused", async () => {
    const r = await fetchFrom("deployer", `${NODE1}:2379/v3/kv/range`, ["--cacert", file("ca.pem"), "-d", '{"key":"Zm9v"}']);
    expect(r.code).not.toBe(0);
    expect(r.body).not.toMatch(/cluster_id/);
  });

  test("GIVEN a client certificate from another CA THEN it is refused", async () => {
    const other = path.join(tempDir("other-ca-"), "pki");
    new PkiDirectory({ directory: other, keySize: 2048, caValidityDays: 30, certificateValidityDays: 30 }).plan([]).commit();
    await expectRefusedWith(path.join(other, "admin.pem"), path.join(other, "admin-key.pem"));
  });

  test("GIVEN a certificate of the right CA but without clientAuth THEN it is refused", async () => {
    const dir = tempDir("server-only-");
    const sh = (script: string) =>
      execFileSync("sh", ["-c", script], { cwd: dir, env: { ...process.env, CA: file("ca.pem"), CAKEY: file("ca-key.pem") } });
    sh('openssl req -new -newkey rsa:2048 -nodes -keyout key.pem -subj "/CN=server-only" -out csr.pem 2>/dev/null');
    sh(
      'printf "extendedKeyUsage=serverAuth\\n" > ext && openssl x509 -req -in csr.pem -CA "$CA" -CAkey "$CAKEY" -set_serial 7 -days 1 -sha256 -extfile ext -out cert.pem 2>/dev/null'
    );
    await expectRefusedWith(path.join(dir, "cert.pem"), path.join(dir, "key.pem"));
  });

  test("GIVEN plain http THEN etcd serves nothing (3.4 hangs up, later versions answer 400)", async () => {
    const r = await fetchFrom("deployer", "http://172.16.0.101:2379/v3/kv/range", ["-d", '{"key":"Zm9v"}']);
    expect(r.code !== 0 || r.status === 400).toBe(true);
    expect(r.status).not.toBe(200);
    expect(r.body).not.toMatch(/cluster_id/);
  });
});

describe("peers must present a certificate issued for their own IP", () => {
  test("GIVEN etcd_node2's certificate used from etcd_node2's address THEN node1's peer port answers (the positive control)", async () => {
    const tls = ["--http1.1", "--cacert", file("ca.pem"), "--cert", file("etcd_node2.pem"), "--key", file("etcd_node2-key.pem")];
    const r = await fetchFrom("etcd_node2", `${NODE1}:2380/version`, tls);
    expect([r.code, r.status]).toEqual([0, 200]);
  });

  test("GIVEN etcd_node2's certificate presented from another address THEN node1's peer port refuses it", async () => {
    const tls = ["--http1.1", "--cacert", file("ca.pem"), "--cert", file("etcd_node2.pem"), "--key", file("etcd_node2-key.pem")];
    const r = await fetchFrom("deployer", `${NODE1}:2380/version`, tls);
    expect(r.code).not.toBe(0);
    expect(r.body).not.toMatch(/etcdserver/);
  });
});

describe("secrets at rest", () => {
  test("THEN each member's key file is 0600 and owned by the etcd user (inside its machine)", async () => {
    for (const member of SEED) {
      const stat = await lab.machineExec(member.name, ["stat", "-c", "%a %U", "/etc/etcd/ssl/etcd-key.pem"]);
      expect(stat.stdout.trim()).toBe("600 etcd");
    }
  });

  test("THEN the CA private key appears in no synthesized file, and no member key either", () => {
    const secrets = ["ca-key.pem", ...SEED.map((m) => `${m.name}-key.pem`)].map((f) => fs.readFileSync(file(f), "utf8").split("\n")[1]);
    const files = (fs.readdirSync(outdir, { recursive: true }) as string[])
      .map((f) => path.join(outdir, f))
      .filter((f) => fs.statSync(f).isFile());
    expect(files.length).toBeGreaterThan(2);
    for (const f of files) {
      const text = fs.readFileSync(f, "utf8");
      for (const secret of secrets) expect(text.includes(secret) ? f : "").toBe("");
    }
  });
});
