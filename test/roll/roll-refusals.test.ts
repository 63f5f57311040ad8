// What `roll` refuses before it changes anything, against a cluster that reports what it runs:
// the refusals a real cluster is needed for are in test/real/roll.test.ts and upgrade.test.ts.
import type { EtcdClient } from "../../lib/membership/etcd-membership";
import { roll, RollError, type RollTerraform } from "../../lib/roll/roll";
import type { ShownState } from "../../lib/roll/terraform-state";
import { SEED, synthCluster } from "../support/synth";

/** A healthy 3-member cluster whose members report `version`. */
function cluster(version: string): EtcdClient {
  const members = SEED.map((m, i) => ({
    ID: String(i + 1),
    name: m.name,
    peerURLs: [`https://${m.privateIp}:2380`],
    clientURLs: [`https://${m.privateIp}:2379`],
  }));
  return {
    endpoints: members.map((m) => m.clientURLs[0]),
    memberList: async () => ({ members, memberId: "1" }),
    health: async () => ({ healthy: true, tookMs: 1 }),
    status: async (endpoint: string) => ({
      version,
      leader: "1",
      header: { member_id: String(members.findIndex((m) => m.clientURLs[0] === endpoint) + 1) },
    }),
  } as unknown as EtcdClient;
}

function terraform(state: ShownState = {}): RollTerraform & { calls: string[][] } {
  const calls: string[][] = [];
  return { calls, apply: async (args) => void calls.push(["apply", ...args]), show: async () => (calls.push(["show"]), state) };
}

/** The state of a cluster whose VMs were launched from `json` (references and escapes resolved, nothing else in it). */
function launchedFrom(json: any): ShownState {
  const resources = Object.entries(json.resource.aws_instance).map(([name, i]: [string, any]) => ({
    address: `aws_instance.${name}[0]`,
    mode: "managed" as const,
    type: "aws_instance",
    name,
    values: { ami: "ami-0123456789abcdef0", instance_type: i.instance_type, user_data: i.user_data.replace(/\$\$\{/g, "${"), tags: i.tags },
  }));
  return { values: { root_module: { resources } } };
}

test("GIVEN members that run 3.4.23 WHEN the stack installs v3.6.14 THEN the roll refuses before Terraform runs, naming the field, both versions and the path", async () => {
  const { json } = synthCluster(); // the default install: v3.6.14
  const tf = terraform();
  const lines: string[] = [];
  const rolled = roll({ config: json, terraform: tf, client: cluster("3.4.23"), log: (l) => lines.push(l) });
  await expect(rolled).rejects.toThrow(RollError);
  await expect(rolled).rejects.toThrow(
    'the roll refuses to start: install.version is "v3.6.14" but etcd_node1 runs v3.4.23: etcd upgrades one minor version at a time: roll 3.4 -> 3.5 -> 3.6, one roll each; install.version is "v3.6.14" but etcd_node2 runs v3.4.23'
  );
  expect(tf.calls).toEqual([]);
});

test("GIVEN members that run 3.5.25 WHEN the stack installs v3.6.14 THEN the roll refuses: 3.6 needs 3.5.26 first", async () => {
  const tf = terraform();
  await expect(roll({ config: synthCluster().json, terraform: tf, client: cluster("3.5.25"), log: () => undefined })).rejects.toThrow(
    /etcd 3\.6 needs every member on v3\.5\.26 or later first: roll v3\.5\.25 -> v3\.5\.26 \(or a later 3\.5\), then -> v3\.6\.14/
  );
  expect(tf.calls).toEqual([]);
});

test("GIVEN VMs launched before data volumes WHEN the stack that has them is rolled THEN the roll refuses to replace any, after its plain apply", async () => {
  const tf = terraform(launchedFrom(synthCluster({ dataVolume: false }).json));
  const rolled = roll({ config: synthCluster().json, terraform: tf, client: cluster("3.6.14"), log: () => undefined });
  await expect(rolled).rejects.toThrow(
    /^the roll refuses to replace etcd_node1, etcd_node2, etcd_node3: etcd's data is not on a data volume both for the VM that runs and for the new one .* nothing was replaced$/
  );
  expect(tf.calls).toEqual([["apply"], ["show"]]);
});

test("GIVEN members that run 3.5.30 WHEN the stack installs v3.6.14 THEN the roll goes on to apply the configuration", async () => {
  const tf = terraform();
  // The empty state has no VM for any member: the roll stops there, after its first apply.
  await roll({ config: synthCluster().json, terraform: tf, client: cluster("3.5.30"), log: () => undefined }).catch(() => undefined);
  expect(tf.calls[0]).toEqual(["apply"]);
});
