// install.version against the versions the members were launched with, as the stack's local
// Terraform state records them: a change etcd cannot make in one roll is refused at synth, with the
// path to take, and nothing is written.
import * as fs from "node:fs";
import * as path from "node:path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster, EtcdClusterConfigError, type EtcdClusterProps } from "../../lib";
import { LocalBackend, TerraformStack, Testing } from "../../lib/cdktf";
import { SEED, tempPki } from "../support/synth";
import { temporaryDirectory } from "../support/temp";

const SHA = "0".repeat(64);
// v3.6.14 is pinned by the library; the others come with a checksum of their own.
const install = (version: string) => (version === "v3.6.14" ? { version } : { version, sha256: SHA, mirrorUrl: "https://mirror.example.com/etcd" });

function synth(stateFile: string, pkiDirectory: string, props: Partial<EtcdClusterProps>): any {
  const stack = new TerraformStack(Testing.app(), "test");
  new AwsProvider(stack, "aws", { region: "us-east-1" });
  new LocalBackend(stack, { path: stateFile });
  new EtcdCluster(stack, "etcd", { members: SEED, pki: { directory: pkiDirectory, source: "directory" }, ...props });
  return JSON.parse(Testing.synth(stack));
}

/** The state a deploy of `json` leaves: its instances, with the user data Terraform handed over. */
function stateOf(json: any): object {
  const resources = Object.entries(json.resource.aws_instance).map(([name, i]: [string, any]) => ({
    mode: "managed",
    type: "aws_instance",
    name,
    instances: [{ index_key: 0, attributes: { id: `i-${name.length}`, tags: i.tags, user_data: i.user_data.replace(/\$\$\{/g, "${") } }],
  }));
  return { version: 4, resources };
}

describe("GIVEN a cluster deployed with etcd v3.4.23 (a local state)", () => {
  const dir = temporaryDirectory("version-change-");
  const stateFile = path.join(dir, "terraform.test.tfstate");
  const pki = tempPki();
  fs.writeFileSync(stateFile, JSON.stringify(stateOf(synth(stateFile, pki, { install: install("v3.4.23") }))));

  test("WHEN v3.5.30 is synthesized THEN the next minor is accepted", () => {
    expect(() => synth(stateFile, pki, { install: install("v3.5.30") })).not.toThrow();
  });

  test("WHEN v3.6.14 is synthesized THEN synth refuses the skipped minor, naming the field, both versions, the state and the path", () => {
    const listing = () => fs.readdirSync(pki).map((f) => [f, fs.statSync(path.join(pki, f)).mtimeMs]);
    const before = listing();
    let error: unknown;
    try {
      synth(stateFile, pki, { install: install("v3.6.14") });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EtcdClusterConfigError);
    expect((error as EtcdClusterConfigError).details).toEqual([
      {
        path: "install.version",
        message: `install.version is "v3.6.14" but etcd_node1, etcd_node2, etcd_node3 run v3.4.23 (the Terraform state ${stateFile}): etcd upgrades one minor version at a time: roll 3.4 -> 3.5 -> 3.6, one roll each`,
      },
    ]);
    expect(listing()).toEqual(before);
  });

  test("WHEN another cluster's state is there THEN its versions do not count", () => {
    const other = tempPki("empty");
    expect(() => synth(stateFile, other, { install: install("v3.6.14") })).not.toThrow();
  });
});
