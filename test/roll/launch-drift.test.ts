// Which members a roll replaces: the synthesized launch configuration (AMI, instance type, user
// data, references resolved from the state as Terraform would) against the state's instances.
import { createHash } from "node:crypto";
import { launchDrift } from "../../lib/roll/launch-drift";
import { resolveReferences, type ShownState, type StateResource } from "../../lib/roll/terraform-state";
import { instanceOf, NODE4, SEED, synthCluster } from "../support/synth";

const AMI = "ami-0123456789abcdef0";

/** The state Terraform would hold right after deploying `json`: each resource's references resolved. */
function deployed(json: any, edit: (member: string, values: Record<string, unknown>) => void = () => undefined): ShownState {
  const volumes: StateResource[] = Object.entries(json.resource.aws_ebs_volume).map(([name, v]: [string, any], i) => ({
    address: `aws_ebs_volume.${name}[0]`,
    mode: "managed",
    type: "aws_ebs_volume",
    name,
    index: 0,
    values: { id: `vol-0000000000000000${i}`, tags: v.tags },
  }));
  const ami: StateResource = {
    address: Object.keys(json.data.aws_ami).map((n) => `data.aws_ami.${n}`)[0],
    mode: "data",
    type: "aws_ami",
    name: "ami",
    values: { id: AMI },
  };
  const base: ShownState = { values: { root_module: { resources: [...volumes, ami] } } };
  const instances: StateResource[] = Object.entries(json.resource.aws_instance)
    .filter(([, i]: [string, any]) => i.count !== 0)
    .map(([name, i]: [string, any]) => {
      const values: Record<string, unknown> = {
        ami: AMI,
        instance_type: i.instance_type,
        user_data: resolveReferences(i.user_data, base),
        tags: i.tags,
      };
      edit(i.tags["etcd:member"], values);
      return { address: `aws_instance.${name}[0]`, mode: "managed", type: "aws_instance", name, index: 0, values };
    });
  return { values: { root_module: { resources: [...base.values!.root_module!.resources!, ...instances] } } };
}

/** The user data `json` gives `member`, as Terraform would have handed it over (it has no references). */
function launchedWithout(json: any, member: string): string {
  const instance = Object.values(json.resource.aws_instance).find((i: any) => i.tags["etcd:member"] === member) as any;
  return resolveReferences(instance.user_data, {})!;
}

describe("resolveReferences", () => {
  const state: ShownState = {
    values: {
      root_module: {
        resources: [
          { address: "aws_ebs_volume.v[0]", mode: "managed", type: "aws_ebs_volume", name: "v", index: 0, values: { id: "vol-1" } },
        ],
      },
    },
  };

  test("GIVEN a reference and Terraform's escapes THEN the reference takes the state's value and the escapes are undone", () => {
    expect(resolveReferences("VOLUME='${aws_ebs_volume.v[0].id}' $${HOME} %%{ x }", state)).toBe("VOLUME='vol-1' ${HOME} %{ x }");
  });

  test.each([
    ["a resource not in the state", "${aws_ebs_volume.w[0].id}"],
    ["an attribute the state lacks", "${aws_ebs_volume.v[0].arn}"],
    ["an expression", '${upper("x")}'],
    ["a directive", "%{ if true }x%{ endif }"],
  ])("GIVEN %s THEN it cannot say what Terraform would hand over", (_what, text) => {
    expect(resolveReferences(text, state)).toBeUndefined();
  });
});

describe("launchDrift", () => {
  const { json } = synthCluster();

  test("GIVEN the state of a fresh deploy THEN every member's VM is as configured", () => {
    const drift = launchDrift(json, deployed(json));
    expect(drift.map((d) => [d.member, d.launched, d.changes])).toEqual(SEED.map((m) => [m.name, true, []]));
    expect(drift[0].address).toMatch(/^aws_instance\.etcd_etcd_node1_instance_[0-9A-F]+\[0\]$/);
  });

  test("GIVEN a tuning change THEN every member differs in its etcd.conf only", () => {
    const tuned = synthCluster({ tuning: { snapshotCount: 20_000 } }).json;
    expect(launchDrift(tuned, deployed(json)).map((d) => d.changes)).toEqual(SEED.map(() => ["user data: /etc/etcd/etcd.conf"]));
  });

  test("GIVEN a new AMI release and another instance type THEN both are named, old and new", () => {
    const bigger = synthCluster({ instanceType: "t3.medium" }).json;
    const state = deployed(json, (_m, v) => (v.ami = "ami-0aaaaaaaaaaaaaaaa"));
    expect(launchDrift(bigger, state)[0].changes).toEqual([`AMI ami-0aaaaaaaaaaaaaaaa -> ${AMI}`, "instance type t3.small -> t3.medium"]);
  });

  test("GIVEN the SHA-1 of the user data in the state (provider v5) THEN it is compared as such", () => {
    const hashed = deployed(json, (_m, v) => (v.user_data = createHash("sha1").update(String(v.user_data)).digest("hex")));
    expect(launchDrift(json, hashed).every((d) => d.changes.length === 0)).toBe(true);
    expect(launchDrift(synthCluster({ tuning: { snapshotCount: 1 } }).json, hashed)[0].changes).toEqual(["user data: changed"]);
  });

  test("GIVEN VMs launched without data volumes THEN a new VM would not keep the member's data; with them it would", () => {
    const withoutVolumes = synthCluster({ dataVolume: false }).json;
    const old = deployed(json, (member, v) => (v.user_data = launchedWithout(withoutVolumes, member)));
    expect(launchDrift(json, old).map((d) => d.keepsData)).toEqual([false, false, false]);
    expect(launchDrift(withoutVolumes, deployed(json)).map((d) => d.keepsData)).toEqual([false, false, false]);
    expect(launchDrift(synthCluster({ tuning: { snapshotCount: 1 } }).json, deployed(json)).map((d) => d.keepsData)).toEqual([
      true,
      true,
      true,
    ]);
  });

  test("GIVEN a member with no VM in the state, and one removed THEN the first has no VM yet and the removed one is not rolled", () => {
    const grown = synthCluster({
      members: [...SEED, NODE4, { ...NODE4, name: "etcd_node5", privateIp: "172.16.0.105", removed: true }],
    }).json;
    const drift = launchDrift(grown, deployed(json));
    expect(drift.map((d) => d.member)).toEqual([...SEED.map((m) => m.name), NODE4.name]);
    expect(drift[3]).toMatchObject({ launched: false, changes: ["no VM yet"] });
    expect(instanceOf(grown, "etcd_node5").count).toBe(0);
  });
});
