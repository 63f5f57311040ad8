// Issue 9: every handle EtcdCluster exposes for composition, used in other resources of the user's
// stack, synthesizes references the real Terraform accepts: `terraform validate` and `plan` pass
// against the lab's aws provider, whose schema comes from the stack itself.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Route53Record } from "@cdktf/provider-aws/lib/route53-record";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { SsmParameter } from "@cdktf/provider-aws/lib/ssm-parameter";
import { EtcdCluster, type MemberInstance } from "../../lib";
import { App, LocalBackend, TerraformStack } from "../../lib/cdktf";
import { labHandlers } from "../../lib/lab/aws-standin";
import { deriveSchema, startProviderServer, type ProviderServer } from "../../lib/lab/provider";
import { SEED, tempPki } from "../support/synth";
import { requireTerraform, TerraformDir } from "../support/terraform-run";

const dir = mkdtempSync(join(tmpdir(), "etcd-compose-"));
const stackDir = join(dir, "cdktf.out", "stacks", "app");
let server: ProviderServer | undefined;
let terraform: TerraformDir;

/** Synthesizes the user's stack: the cluster and resources made from each of its handles. */
function synthComposed(): void {
  const app = new App({ outdir: join(dir, "cdktf.out"), stackTraces: false });
  const stack = new TerraformStack(app, "app");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new LocalBackend(stack, { path: join(dir, "terraform.tfstate") });
  const cluster = new EtcdCluster(stack, "etcd", { members: SEED, pki: { directory: tempPki() } });
  const node1: MemberInstance = cluster.memberInstance("etcd_node1");
  const apps = new SecurityGroup(stack, "apps", { name: "apps", vpcId: cluster.vpcId });
  cluster.allowClientsFrom({ securityGroupId: apps.id }, "app servers");
  new CloudwatchMetricAlarm(stack, "node1-cpu", {
    alarmName: "etcd-node1-cpu",
    namespace: "AWS/EC2",
    metricName: "CPUUtilization",
    dimensions: { InstanceId: node1.instance.id },
    comparisonOperator: "GreaterThanThreshold",
    threshold: 80,
    evaluationPeriods: 3,
    period: 60,
    statistic: "Average",
  });
  new Route53Record(stack, "node1-dns", {
    zoneId: "Z0LAB",
    name: "etcd-1.internal",
    type: "A",
    ttl: 60,
    records: [node1.instance.privateIp],
  });
  new SsmParameter(stack, "endpoints", {
    name: "/app/etcd",
    type: "String",
    value: [cluster.clientEndpoints.join(","), cluster.securityGroupId, cluster.initialClusterToken, node1.instance.arn].join(" "),
  });
  app.synth();
}

beforeAll(async () => {
  requireTerraform();
  synthComposed();
  const config = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8")) as object;
  const schema = deriveSchema(config);
  const refuse = () => {
    throw new Error("this test only validates and plans");
  };
  const cloud = {
    launch: refuse,
    terminate: refuse,
    putParameter: refuse,
    deleteParameter: refuse,
    instanceExists: () => false,
    parameterExists: () => false,
    createVolume: refuse,
    deleteVolume: refuse,
    volumeExists: () => false,
    attachVolume: refuse,
    detachVolume: refuse,
    attachmentExists: () => false,
  };
  server = await startProviderServer({
    socketPath: join(dir, "provider.sock"),
    schema,
    handlers: labHandlers(cloud, schema, () => undefined),
  });
  terraform = new TerraformDir(stackDir, server.reattach);
  await terraform.expect(0, "init", "-input=false");
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("GIVEN every public handle composed into the user's resources WHEN Terraform validates and plans THEN it accepts them", async () => {
  // WHEN the real Terraform validates the stack and plans it
  await terraform.expect(0, "validate");
  const plan = await terraform.expect(0, "plan", "-input=false");

  // THEN the composed resources are planned with the members' attributes still to come from the VM
  expect(plan).toMatch(/aws_cloudwatch_metric_alarm\.node1-cpu will be created/);
  expect(plan).toMatch(/aws_route53_record\.node1-dns will be created/);
  expect(plan).toMatch(/"InstanceId" = \(known after apply\)/);
  expect(plan).toMatch(/referenced_security_group_id\s+= \(known after apply\)/);
});

test("GIVEN the reference cdktf makes by default for a counted instance THEN Terraform rejects it, as the handle avoids", async () => {
  // GIVEN the alarm's dimension rewritten to what a plain aws_instance attribute would synthesize
  const file = join(stackDir, "cdk.tf.json");
  const original = readFileSync(file, "utf8");
  const json = JSON.parse(original);
  const alarm = json.resource.aws_cloudwatch_metric_alarm["node1-cpu"];
  alarm.dimensions.InstanceId = alarm.dimensions.InstanceId.replace("[0].id", ".id");
  writeFileSync(file, JSON.stringify(json));
  try {
    // WHEN Terraform validates it THEN it refuses with its own message
    const result = await terraform.run("validate");
    expect(result.code).toBe(1);
    expect(result.output).toContain("Missing resource instance key");
  } finally {
    writeFileSync(file, original);
  }
});
