// Synthesizes an EtcdCluster the way the tests need it: against a copy of the fixture PKI
// (so certificates, and so the output, are fixed) into a fresh output directory.
import * as fs from "node:fs";
import * as path from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster, type EtcdClusterProps, type EtcdMemberProps } from "../../lib";
import { App, TerraformStack, Testing } from "../../lib/cdktf";
import { parseCloudConfig } from "../../lib/host/cloud-config";
import { parseEnvironmentFile } from "../../lib/etcd/etcd-conf";
import { unescapeTemplate } from "../../lib/terraform-string";
import { terraformWorkingDirectory } from "../../lib/cluster-pki";
import { temporaryDirectory } from "./temp";

export const FIXTURE_PKI = path.join(__dirname, "..", "fixtures", "insecure-test-pki");

export const SEED: EtcdMemberProps[] = [
  { name: "etcd_node1", privateIp: "172.16.0.101" },
  { name: "etcd_node2", privateIp: "172.16.0.102" },
  { name: "etcd_node3", privateIp: "172.16.0.103" },
];
export const NODE4: EtcdMemberProps = { name: "etcd_node4", privateIp: "172.16.0.104", initialClusterState: "existing" };

/**
 * A fresh copy of the committed fixture PKI (etcd_node1..5 and admin), or an empty directory.
 * "caller": the caller removes it (a lab may still use it in its own afterAll).
 */
export function tempPki(fill: "fixture" | "empty" = "fixture", removedBy: "this-file" | "caller" = "this-file"): string {
  const dir = temporaryDirectory("etcd-pki-", removedBy);
  if (fill === "fixture") fs.cpSync(FIXTURE_PKI, dir, { recursive: true });
  return dir;
}

export interface Synthesized {
  /** cdk.tf.json as text, with the machine-specific PKI and output paths replaced by <pki>. */
  readonly text: string;
  readonly json: any;
  readonly cluster: EtcdCluster;
  readonly stackDir: string;
  readonly pkiDirectory: string;
}

export function synthCluster(props: Partial<EtcdClusterProps> = {}, options: { pkiDirectory?: string; app?: App } = {}): Synthesized {
  const pkiDirectory = options.pkiDirectory ?? tempPki();
  const app = options.app ?? Testing.app();
  const stack = new TerraformStack(app, "test");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  const cluster = new EtcdCluster(stack, "etcd", {
    members: SEED,
    ...props,
    pki: { directory: pkiDirectory, source: "directory", ...props.pki },
  });
  const raw = Testing.synth(stack);
  // Relative from where Terraform would run the stack: under Testing, cdktf.out in the current directory.
  const relative = path.relative(terraformWorkingDirectory(cluster), pkiDirectory);
  const text = raw.split(relative).join("<pki>").split(pkiDirectory).join("<pki>");
  return { text, json: JSON.parse(raw), cluster, stackDir: path.join(app.outdir, "stacks", "test"), pkiDirectory };
}

/** The resources of one type, keyed by logical id. */
export function resources(json: any, type: string): Record<string, any> {
  return json.resource?.[type] ?? {};
}

export function instanceOf(json: any, member: string): any {
  const found = Object.values(resources(json, "aws_instance")).find((r: any) => r.tags?.["etcd:member"] === member);
  if (!found) throw new Error(`no aws_instance for ${member}`);
  return found;
}

/** The user data as the VM receives it, after Terraform has read the template escapes. */
export function userDataOf(json: any, member: string): string {
  return unescapeTemplate(instanceOf(json, member).user_data);
}

/** The files a member's cloud-init would write, by path. */
export function memberFiles(json: any, member: string): Map<string, string> {
  const config = parseCloudConfig(userDataOf(json, member));
  return new Map((config.writeFiles ?? []).map((f) => [f.path, f.content]));
}

export function memberConf(json: any, member: string): Record<string, string> {
  return parseEnvironmentFile(memberFiles(json, member).get("/etc/etcd/etcd.conf")!);
}

/**
 * Synthesizes the seed example's stack (the stack a user deploys) with `members` into `outdir`,
 * as `cdktf synth` would, and returns the stack directory holding cdk.tf.json and its assets.
 */
export function synthExampleToDisk(members: EtcdMemberProps[], pkiDirectory: string, outdir: string): string {
  // Required lazily: the examples import this library, which this helper also serves.
  const { SeedClusterStack } = require("../../examples/seed-cluster/stack") as typeof import("../../examples/seed-cluster/stack");
  const app = new App({ outdir, stackTraces: false });
  new SeedClusterStack(app, "seed-cluster", { members, pkiDirectory });
  app.synth();
  return path.join(outdir, "stacks", "seed-cluster");
}
