// Raw user-data bytes per member, against EC2's 16,384-byte limit.
import * as path from "node:path";
import * as fs from "node:fs";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster, USER_DATA_LIMIT_BYTES } from "../lib";
import { TerraformStack, Testing } from "../lib/cdktf";
import { unescapeTemplate } from "../lib/terraform-string";
import { tempDir, type Figure } from "./run";

const FIXTURE_PKI = path.join(__dirname, "..", "test", "fixtures", "insecure-test-pki");

function userDataSizes(keyDelivery: "ssm" | "user-data"): Map<string, number> {
  const pki = path.join(tempDir("bench-ud-"), "pki");
  fs.cpSync(FIXTURE_PKI, pki, { recursive: true });
  const stack = new TerraformStack(Testing.app(), "bench");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  new EtcdCluster(stack, "etcd", {
    members: [1, 2, 3].map((i) => ({ name: `etcd_node${i}`, privateIp: `172.16.0.${100 + i}` })),
    // The fixture's certificates, as in the real PKI: not the test PKI Testing.app() would pick.
    pki: { directory: pki, source: "directory" },
    keyDelivery,
  });
  const json = JSON.parse(Testing.synth(stack));
  return new Map(
    Object.values(json.resource.aws_instance).map((i: any) => [i.tags["etcd:member"], Buffer.byteLength(unescapeTemplate(i.user_data))])
  );
}

export function benchUserData(): Figure[] {
  return (["ssm", "user-data"] as const).flatMap((mode) =>
    [...userDataSizes(mode)].map(([member, bytes]) => ({
      name: `user data ${member}, keyDelivery "${mode}"`,
      value: bytes,
      unit: "bytes",
      goal: "< 8192",
      met: bytes < 8192,
      note: `${((bytes / USER_DATA_LIMIT_BYTES) * 100).toFixed(0)}% of EC2's ${USER_DATA_LIMIT_BYTES}`,
    }))
  );
}
