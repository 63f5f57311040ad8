import { execFileSync, spawnSync } from "node:child_process";
import { pemArmour } from "../support/pem";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, labUp } from "../../lib/lab";
import { fakeAwsCli } from "../../lib/lab/key-delivery";
import { SEED, synthExampleToDisk, tempPki } from "../support/synth";

// With SSM key delivery (the default) the user data carries no key: the lab runs the member's own
// boot script's fetch_key against a stand-in `aws` that serves the stack's aws_ssm_parameter values.
const LAB = "labkey";
const MISSING = "labkeymissing";
const dirs: string[] = [];
afterAll(async () => {
  await labDown(LAB, { log: () => undefined });
  await labDown(MISSING, { log: () => undefined });
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

describe("the stand-in aws CLI", () => {
  const dir = tempDir("etcd-lab-aws-");
  writeFileSync(join(dir, "key.pem"), pemArmour("PRIVATE KEY", "abc", false)); // no final newline
  const aws = join(dir, "aws");
  writeFileSync(
    aws,
    fakeAwsCli(
      new Map([
        ["/c/node1", { file: join(dir, "key.pem") }],
        ["/c/lit", { literal: "plain" }],
      ]),
      dir
    ),
    { mode: 0o700 }
  );
  const call = (...args: string[]) => spawnSync("sh", [aws, ...args], { encoding: "utf8" });

  test("prints a parameter's value and a newline, as --output text does", () => {
    expect(call("ssm", "get-parameter", "--region", "us-east-1", "--name", "/c/node1", "--with-decryption").stdout).toBe(
      pemArmour("PRIVATE KEY", "abc")
    );
    expect(call("ssm", "get-parameter", "--name=/c/lit").stdout).toBe("plain\n");
  });

  test("answers an unknown parameter as SSM does, and refuses other calls", () => {
    expect(call("ssm", "get-parameter", "--name", "/c/other")).toMatchObject({
      status: 254,
      stderr: expect.stringContaining("(ParameterNotFound)"),
    });
    expect(call("s3", "ls")).toMatchObject({ status: 252 });
  });
});

describe("a lab of the synthesized seed example", () => {
  test("each member's key arrives through its boot script's fetch_key: the PKI's key, 0600, owned by etcd", async () => {
    // GIVEN the seed example synthesized with its default, SSM key delivery
    const pki = tempPki();
    dirs.push(pki);
    const stackDir = synthExampleToDisk(SEED, pki, tempDir("etcd-lab-key-"));
    expect(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")).not.toMatch(/PRIVATE KEY/);

    // WHEN the lab comes up
    const log: string[] = [];
    const lab = await labUp({ stackDir, pkiDirectory: pki, labName: LAB, log: (l) => log.push(l) });

    // THEN the boot script's own fetch_key wrote each key, which etcd reads in its mount namespace
    for (const m of SEED) {
      expect(log).toContainEqual(
        expect.stringMatching(new RegExp(`aws_instance\\.etcd_${m.name}_instance_\\w+: etcd-bootstrap: wrote /etc/etcd/ssl/etcd-key.pem$`))
      );
      const nsenter = (...argv: string[]) =>
        execFileSync("nsenter", [`--target=${lab.pid(m.name)}`, "--mount", ...argv], { encoding: "utf8" });
      expect(nsenter("stat", "-c", "%a %U:%G", "/etc/etcd/ssl/etcd-key.pem").trim()).toBe("600 etcd:etcd");
      expect(nsenter("cat", "/etc/etcd/ssl/etcd-key.pem")).toBe(readFileSync(join(pki, `${m.name}-key.pem`), "utf8"));
    }
    await labDown(LAB, { log: () => undefined });
  });

  test("a member whose parameter is not in the stack is refused, naming it, and nothing is left", async () => {
    // GIVEN the seed stack without etcd_node2's aws_ssm_parameter
    const pki = tempPki();
    dirs.push(pki);
    const stackDir = synthExampleToDisk(SEED, pki, tempDir("etcd-lab-key-"));
    const file = join(stackDir, "cdk.tf.json");
    const json = JSON.parse(readFileSync(file, "utf8"));
    const params = json.resource.aws_ssm_parameter as Record<string, { name: string }>;
    const [id, { name }] = Object.entries(params).find(([, p]) => p.name.endsWith("/etcd_node2"))!;
    delete params[id];
    for (const instance of Object.values(json.resource.aws_instance) as { depends_on?: string[] }[]) {
      instance.depends_on = instance.depends_on?.filter((d) => d !== `aws_ssm_parameter.${id}`);
    }
    writeFileSync(file, JSON.stringify(json));

    // WHEN the lab comes up THEN it refuses, and leaves nothing
    await expect(labUp({ stackDir, pkiDirectory: pki, labName: MISSING, log: () => undefined })).rejects.toThrow(
      `etcd_node2: its boot script reads SSM parameter ${name}, which no aws_ssm_parameter of the stack (created before it) stores`
    );
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(`${MISSING}-`);
  });
});
