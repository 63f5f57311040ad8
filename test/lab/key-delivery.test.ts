import { execFileSync, spawnSync } from "node:child_process";
import { pemArmour } from "../support/pem";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labDown, TerraformFailed } from "../../lib/lab";
import { fakeAwsCli } from "../../lib/lab/key-delivery";
import { LabProject } from "../support/lab-project";
import { SEED } from "../support/synth";

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
  writeFileSync(join(dir, "plain"), "plain\n");
  const aws = join(dir, "aws");
  writeFileSync(
    aws,
    fakeAwsCli(
      new Map([
        ["/c/node1", join(dir, "key.pem")],
        ["/c/lit", join(dir, "plain")],
      ])
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
  const projects: LabProject[] = [];
  afterAll(() => Promise.all(projects.map((p) => p.remove())));

  test("GIVEN SSM key delivery WHEN deployed THEN each key arrives through the boot script's fetch_key: Terraform's file() value, 0600, owned by etcd", async () => {
    // GIVEN the seed example synthesized with its default, SSM key delivery
    const project = new LabProject(LAB);
    projects.push(project);
    const stackDir = project.synth(SEED);
    expect(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")).not.toMatch(/PRIVATE KEY/);

    // WHEN it is deployed
    const lab = await project.deploy();

    // THEN the boot script's own fetch_key wrote each key, which etcd reads in its mount namespace
    for (const m of SEED) {
      expect(project.log).toContainEqual(
        expect.stringMatching(new RegExp(`\\] ${m.name}: etcd-bootstrap: wrote /etc/etcd/ssl/etcd-key.pem$`))
      );
      const nsenter = (...argv: string[]) =>
        execFileSync("nsenter", [`--target=${lab.pid(m.name)}`, "--mount", ...argv], { encoding: "utf8" });
      expect(nsenter("stat", "-c", "%a %U:%G", "/etc/etcd/ssl/etcd-key.pem").trim()).toBe("600 etcd:etcd");
      expect(nsenter("cat", "/etc/etcd/ssl/etcd-key.pem")).toBe(readFileSync(join(project.pki, `${m.name}-key.pem`), "utf8"));
    }
    // AND the key is in neither the configuration nor Terraform's state (value_wo is write-only)
    expect(readFileSync(project.stateFile, "utf8")).not.toMatch(/PRIVATE KEY/);
  });

  test("GIVEN a member whose parameter the stack does not store WHEN deployed THEN its instance fails, naming the parameter", async () => {
    // GIVEN the seed stack with etcd_node2's aws_ssm_parameter under another name than its boot script reads
    const project = new LabProject(MISSING);
    projects.push(project);
    const file = join(project.synth(SEED), "cdk.tf.json");
    const json = JSON.parse(readFileSync(file, "utf8"));
    const params = json.resource.aws_ssm_parameter as Record<string, { name: string }>;
    const parameter = Object.values(params).find((p) => p.name.endsWith("/etcd_node2"))!;
    const name = parameter.name;
    parameter.name = "/elsewhere/etcd_node2";
    writeFileSync(file, JSON.stringify(json));

    // WHEN it is deployed THEN Terraform reports the lab's refusal for that instance
    await expect(project.deploy()).rejects.toThrow(TerraformFailed);
    expect(project.log.join("\n")).toContain(
      `etcd_node2: its boot script reads SSM parameter ${name}, which no aws_ssm_parameter of the stack (created before it) stores`
    );
  });
});
