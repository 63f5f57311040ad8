// `etcd-cluster pki push|pull` with the real AWS CLI (Debian's awscli), talking to SSM's API as it
// stands in on loopback: the team's one PKI goes to SecureStrings and comes back byte for byte.
import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../../lib/cli/main";
import { writePkiFiles } from "../../lib/pki/pki-directory";
import { FIXTURE_PKI } from "../support/synth";
import { startSsmStandin, type SsmStandin } from "../support/ssm-standin";
import { temporaryDirectory } from "../support/temp";

const AWS_CLI = "/usr/bin/aws"; // Debian's awscli: AWS CLI v2, whatever else is on PATH
const PREFIX = "/etcd-pki/prod";
let ssm: SsmStandin;
const savedEnv = { ...process.env };

beforeAll(async () => {
  if (!fs.existsSync(AWS_CLI)) throw new Error(`${AWS_CLI} is missing: apt-get install awscli`);
  ssm = await startSsmStandin();
  // Credentials of no account: the stand-in does not check signatures, and nothing else is asked.
  Object.assign(process.env, {
    ETCD_CLUSTER_AWS_CLI: AWS_CLI,
    AWS_ACCESS_KEY_ID: "AKIDLAB",
    AWS_SECRET_ACCESS_KEY: "lab",
    AWS_CONFIG_FILE: "/nonexistent",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
    AWS_EC2_METADATA_DISABLED: "true",
  });
});

afterAll(async () => {
  process.env = savedEnv;
  await ssm?.close();
});

async function pki(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(["pki", ...args, "--region", "eu-west-1", "--endpoint-url", ssm.url], (l) => lines.push(l));
  return { code, lines };
}

function snapshot(dir: string): Record<string, { contents: string; mode: number }> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .map((f) => [f, { contents: fs.readFileSync(path.join(dir, f), "utf8"), mode: fs.statSync(path.join(dir, f)).mode & 0o777 }])
  );
}

test("GIVEN a PKI directory WHEN pushed, deleted and pulled THEN the directory comes back byte for byte with its modes", async () => {
  // GIVEN the fixture PKI (15 files: more than one page of GetParametersByPath), with the modes PkiDirectory writes
  const dir = path.join(temporaryDirectory("etcd-pki-push-"), "pki");
  fs.cpSync(FIXTURE_PKI, dir, { recursive: true });
  fs.chmodSync(dir, 0o700);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), f.endsWith("-key.pem") ? 0o600 : 0o644);
  fs.rmSync(path.join(dir, "README.md"));
  fs.rmSync(path.join(dir, ".gitignore"));
  writePkiFiles(dir, new Map()); // the .gitignore a PKI directory has
  const before = snapshot(dir);
  const pems = Object.keys(before).filter((f) => f.endsWith(".pem"));
  expect(pems.length).toBeGreaterThan(10);

  // WHEN it is pushed with a customer-managed KMS key
  const pushed = await pki("push", dir, "--prefix", PREFIX, "--kms-key-id", "alias/etcd-pki");
  expect(pushed.lines.slice(-1)).toEqual([`pushed ${pems.length} files of ${dir} to ${PREFIX} (SecureString, KMS key alias/etcd-pki)`]);
  expect(pushed.code).toBe(0);
  // THEN each PEM file is one SecureString under the prefix, encrypted with that key; nothing else is pushed
  expect([...ssm.parameters.keys()].sort()).toEqual(pems.map((f) => `${PREFIX}/${f}`).sort());
  for (const f of pems) {
    expect(ssm.parameters.get(`${PREFIX}/${f}`)).toMatchObject({
      type: "SecureString",
      keyId: "alias/etcd-pki",
      value: before[f].contents,
    });
  }

  // WHEN the directory is lost and pulled again
  fs.rmSync(dir, { recursive: true });
  const pulled = await pki("pull", dir, "--prefix", PREFIX);
  expect(pulled.lines).toEqual([`pulled ${pems.length} files from ${PREFIX} into ${dir}`]);
  expect(pulled.code).toBe(0);
  // THEN it is byte-identical, keys 0600, certificates and .gitignore 0644, the directory 0700
  expect(snapshot(dir)).toEqual(before);
  expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  // AND it took more than one page to list (SSM returns at most 10 parameters a call)
  expect(ssm.calls.filter((c) => c === "GetParametersByPath").length).toBeGreaterThan(1);
});

test("GIVEN a directory with another CA WHEN pulled THEN it refuses to overwrite it, unless --force", async () => {
  // GIVEN the pushed PKI, and a directory holding another ca.pem
  const dir = temporaryDirectory("etcd-pki-pull-");
  fs.writeFileSync(path.join(dir, "ca.pem"), "another CA\n");
  // WHEN pulled THEN it names the file and the way out, and changes nothing
  const refused = await pki("pull", dir, "--prefix", PREFIX);
  expect(refused.code).toBe(1);
  expect(refused.lines.join("\n")).toMatch(/already holds other versions of ca\.pem: move it away first, or pass --force/);
  expect(fs.readdirSync(dir)).toEqual(["ca.pem"]);
  // WHEN pulled with --force THEN ca.pem is the pushed one
  expect((await pki("pull", dir, "--force", "--prefix", PREFIX)).code).toBe(0);
  expect(fs.readFileSync(path.join(dir, "ca.pem"), "utf8")).toBe(fs.readFileSync(path.join(FIXTURE_PKI, "ca.pem"), "utf8"));
});

test.each([
  [
    "a prefix with nothing there",
    ["pull", "DIR", "--prefix", "/etcd-pki/nothing"],
    1,
    /\/etcd-pki\/nothing holds no CA \(ca\.pem and ca-key\.pem\)/,
  ],
  [
    "a directory without a CA",
    ["push", "EMPTY", "--prefix", PREFIX],
    1,
    /holds no CA \(ca\.pem and ca-key\.pem\): point it at the PKI directory/,
  ],
  ["no prefix", ["push", "DIR"], 2, /pki needs --prefix \/NAME/],
  ["a prefix SSM reserves", ["push", "DIR", "--prefix", "/aws/pki"], 2, /--prefix "\/aws\/pki": must not start with "aws" or "ssm"/],
  ["an unknown verb", ["list", "DIR"], 2, /pki takes push or pull, not "list"/],
])("GIVEN %s THEN pki says what is wrong and how to fix it", async (_what, args, code, message) => {
  const empty = temporaryDirectory("etcd-pki-empty-");
  const result = await pki(...args.map((a) => (a === "DIR" ? path.join(empty, "pki") : a === "EMPTY" ? empty : a)));
  expect(result.lines.join("\n")).toMatch(message);
  expect(result.code).toBe(code);
});
