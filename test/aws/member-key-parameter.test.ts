import { Construct } from "constructs";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { MemberKeyParameter, type MemberKeyParameterProps } from "../../lib/aws/member-key-parameter";
import { MemberRole } from "../../lib/aws/member-role";
import { TerraformOutput, TerraformStack, Testing } from "../../lib/cdktf";
import { terraformOutputs } from "../support/terraform";

const KEY_FIXTURE = join(__dirname, "..", "fixtures", "insecure-test-pki", "etcd_node1-key.pem");
const KEY_FILE = "../../../.etcd-pki/etcd_node1-key.pem";
const PROPS: MemberKeyParameterProps = {
  memberName: "etcd_node1",
  parameterName: "/etcd/etcd-0123456789abcdef/etcd_node1/key",
  keyFile: KEY_FILE,
  keyVersion: 281474976710655,
  roleId: "", // the member's role, made beside it in synth()
  tags: { Project: "etcd", "etcd:member": "etcd_node1" },
};
const FILE_EXPRESSION = `\${file("\${path.module}/${KEY_FILE}")}`;

/** The synthesized stack of one MemberKeyParameter, as text (for the matchers) and parsed. */
function synth(props: Partial<MemberKeyParameterProps> = {}) {
  const app = Testing.app();
  const stack = new TerraformStack(app, "stack");
  const memberName = props.memberName ?? PROPS.memberName;
  const role = new MemberRole(stack, `${memberName}-role`, { memberName, purposes: ["reads its private key from SSM"], tags: PROPS.tags });
  const construct = new MemberKeyParameter(stack, "etcd_node1-key", { ...PROPS, roleId: role.roleId, ...props });
  const text = Testing.synth(stack);
  const json = JSON.parse(text) as { resource: Record<string, Record<string, Record<string, unknown>>> };
  const only = (type: string) => {
    const blocks = Object.values(json.resource[type] ?? {});
    expect(blocks).toHaveLength(1);
    return blocks[0];
  };
  /** "type.name" of the one resource of `type`, as Terraform references it. */
  const address = (type: string) => `${type}.${Object.keys(json.resource[type] ?? {})[0]}`;
  return { text, json, only, address, construct, role };
}

describe("MemberKeyParameter", () => {
  test("GIVEN a member's key file WHEN synthesized THEN it is a SecureString whose write-only value is file() of that path", () => {
    // WHEN
    const { text, only } = synth();
    // THEN
    expect(text).toHaveResourceWithProperties(SsmParameter, {
      name: PROPS.parameterName,
      type: "SecureString",
      tier: "Standard",
      value_wo: FILE_EXPRESSION,
      value_wo_version: 281474976710655,
      description: "Private key (PEM) of etcd member etcd_node1",
      tags: PROPS.tags,
    });
    // AND there is no value Terraform would keep in its state, and no key material anywhere
    const parameter = only("aws_ssm_parameter");
    expect(parameter).not.toHaveProperty("value");
    expect(parameter).not.toHaveProperty("insecure_value");
    expect(parameter).not.toHaveProperty("key_id");
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain(readFileSync(KEY_FIXTURE, "utf8").split("\n")[1]);
  });

  test("GIVEN a KMS key WHEN synthesized THEN the parameter is encrypted with it", () => {
    const { text } = synth({ kmsKeyId: "alias/etcd-keys" });
    expect(text).toHaveResourceWithProperties(SsmParameter, { key_id: "alias/etcd-keys" });
  });

  test("GIVEN the construct WHEN synthesized THEN its role trusts EC2 only, and may read this parameter and decrypt nothing else", () => {
    // WHEN
    const { text, only, address } = synth();
    // THEN the role can only be assumed by EC2
    const role = only("aws_iam_role");
    expect(role).toMatchObject({ name_prefix: "etcd_node1-", tags: PROPS.tags });
    expect(JSON.parse(role.assume_role_policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    });
    // AND its one inline policy allows GetParameter on this parameter, and Decrypt only in this parameter's encryption context
    expect(text).toHaveResourceWithProperties(IamRolePolicy, { role: `\${${address("aws_iam_role")}.id}` });
    const policy = only("aws_iam_role_policy");
    const arn = `\${${address("aws_ssm_parameter")}.arn}`;
    expect(JSON.parse(policy.policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "ReadTheKeyParameter", Effect: "Allow", Action: "ssm:GetParameter", Resource: arn },
        {
          Sid: "DecryptTheKeyParameterOnly",
          Effect: "Allow",
          Action: "kms:Decrypt",
          Resource: "*",
          Condition: { StringEquals: { "kms:EncryptionContext:PARAMETER_ARN": arn } },
        },
      ],
    });
    // AND the instance profile carries that role
    expect(text).toHaveResourceWithProperties(IamInstanceProfile, {
      name_prefix: "etcd_node1-",
      role: `\${${address("aws_iam_role")}.name}`,
    });
    expect(text).toHaveResourceWithProperties(IamRole, { description: "etcd member etcd_node1: reads its private key from SSM" });
  });

  test("GIVEN the construct WHEN its outputs are read THEN they name the profile and the parameter, and what an instance waits for", () => {
    // GIVEN outputs of a stack that hold the construct's attributes, the way an instance would use them
    const { address } = synth();
    const stack = new TerraformStack(Testing.app(), "stack");
    const role = new MemberRole(stack, "etcd_node1-role", {
      memberName: "etcd_node1",
      purposes: ["reads its private key from SSM"],
      tags: PROPS.tags,
    });
    const construct = new MemberKeyParameter(stack, "etcd_node1-key", { ...PROPS, roleId: role.roleId });
    new TerraformOutput(stack, "profile", { value: role.instanceProfileName });
    new TerraformOutput(stack, "arn", { value: construct.parameterArn, dependsOn: construct.instanceDependencies });
    // WHEN synthesized
    const { output } = JSON.parse(Testing.synth(stack)) as { output: Record<string, { value: string; depends_on?: string[] }> };
    // THEN they reference the profile's name, the parameter's ARN, and the parameter and policy to wait for
    expect(output.profile.value).toBe(`\${${address("aws_iam_instance_profile")}.name}`);
    expect(output.arn.value).toBe(`\${${address("aws_ssm_parameter")}.arn}`);
    expect(output.arn.depends_on).toEqual([`\${${address("aws_ssm_parameter")}}`, `\${${address("aws_iam_role_policy")}}`]);
  });

  test("GIVEN the role and profile of 0.2, under the key parameter WHEN synthesized THEN moved blocks carry their state to the member's role", () => {
    // GIVEN 0.2's addresses: the role and profile were children of "<member>-key" (stack/etcd_node1-key/role)
    const old = JSON.parse(Testing.synth(withOldLayout())).resource as Record<string, Record<string, unknown>>;
    const oldRole = `aws_iam_role.${Object.keys(old.aws_iam_role)[0]}`;
    const oldProfile = `aws_iam_instance_profile.${Object.keys(old.aws_iam_instance_profile)[0]}`;
    // WHEN this version synthesizes the member's role
    const { json, address } = synth();
    // THEN each moves from its old address to its new one
    expect((json as unknown as { moved: { from: string; to: string }[] }).moved).toEqual(
      expect.arrayContaining([
        { from: oldRole, to: address("aws_iam_role") },
        { from: oldProfile, to: address("aws_iam_instance_profile") },
      ])
    );
    expect(oldRole).not.toBe(address("aws_iam_role"));
  });

  test("GIVEN a 63-character member name WHEN synthesized THEN the IAM name prefixes stay within Terraform's 38 characters", () => {
    const memberName = `m${"x".repeat(62)}`;
    const { only } = synth({ memberName });
    expect(only("aws_iam_role").name_prefix).toBe(`${memberName.slice(0, 37)}-`);
    expect((only("aws_iam_role").name_prefix as string).length).toBe(38);
  });
});

/** A stack with 0.2's layout: an IamRole and IamInstanceProfile at stack/etcd_node1-key/{role,profile}. */
function withOldLayout(): TerraformStack {
  const stack = new TerraformStack(Testing.app(), "stack");
  const key = new Construct(stack, "etcd_node1-key");
  const role = new IamRole(key, "role", { assumeRolePolicy: "{}" });
  new IamInstanceProfile(key, "profile", { role: role.name });
  return stack;
}

describe("the file() expression under real Terraform", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "key-file-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("GIVEN the synthesized value_wo and a key at its relative path WHEN terraform evaluates it THEN it is the key file's content", () => {
    // GIVEN a stack directory three levels below the project, as cdktf.out/stacks/<stack> is, and the key in .etcd-pki
    const stackDir = join(dir, "project", "cdktf.out", "stacks", "stack");
    mkdirSync(stackDir, { recursive: true });
    mkdirSync(join(dir, "project", ".etcd-pki"));
    copyFileSync(KEY_FIXTURE, join(dir, "project", ".etcd-pki", "etcd_node1-key.pem"));
    // ... and the exact string cdktf synthesized, as a local and an output (no provider needed: this runs offline)
    const valueWo = synth().only("aws_ssm_parameter").value_wo as string;
    expect(valueWo).toBe(FILE_EXPRESSION);
    // WHEN
    const { key } = terraformOutputs(stackDir, { locals: { key: valueWo }, output: { key: { value: "${local.key}" } } }, ["key"]);
    // THEN
    expect(key).toBe(readFileSync(KEY_FIXTURE, "utf8"));
  });
});
