import * as fs from "node:fs";
import * as path from "node:path";
import { EtcdClusterConfigError, type EtcdMemberProps } from "../../lib";
import { Testing } from "../../lib/cdktf";
import { instanceOf, memberConf, NODE4, resources, SEED, synthCluster, tempPki, userDataOf } from "../support/synth";

const NODE5: EtcdMemberProps = { name: "etcd_node5", privateIp: "172.16.0.105", initialClusterState: "existing" };

/** terraform_data resources of one member's lifecycle, by step name ("register" or "voter"). */
function steps(json: any, member: string): Record<string, any> {
  return Object.fromEntries(
    Object.entries(resources(json, "terraform_data"))
      .filter(([id]) => id.startsWith(`etcd_${member}-membership_`))
      .map(([id, r]) => [id.split("_").slice(-2, -1)[0], { ...r, address: `terraform_data.${id}` }])
  );
}

function commands(resource: any): { when: string; command: string }[] {
  return (resource.provisioner ?? []).map((p: any) => ({ when: p["local-exec"].when ?? "create", command: p["local-exec"].command }));
}

function addressOf(json: any, member: string): string {
  const [id] = Object.entries(resources(json, "aws_instance")).find(([, r]: any) => r.tags["etcd:member"] === member)!;
  return `aws_instance.${id}`;
}

describe("adding etcd_node4 to the running seed cluster", () => {
  const pkiDirectory = tempPki();
  const seed = synthCluster({ members: SEED }, { pkiDirectory });
  const grown = synthCluster({ members: [...SEED, NODE4] }, { pkiDirectory });

  test("THEN nodes 1-3 keep byte-identical user data", () => {
    for (const m of SEED) expect(instanceOf(grown.json, m.name).user_data).toBe(instanceOf(seed.json, m.name).user_data);
  });

  test("THEN phase 1 registers node4 as a learner before its VM exists", () => {
    const register = steps(grown.json, "etcd_node4").register;
    expect(register.count).toBe(1);
    const [add] = commands(register);
    expect(add.when).toBe("create");
    expect(add.command).toMatch(/^node assets\/\S+\/etcd-membership\.js add /);
    expect(add.command).toContain("--peer-url=https://172.16.0.104:2380");
    expect(add.command).toContain("--endpoints=https://172.16.0.101:2379,https://172.16.0.102:2379,https://172.16.0.103:2379");
    // Through Run Command on a running member: the new member cannot answer yet.
    expect(add.command).toContain(" --transport=ssm --cluster-tag=etcd-");
    expect(add.command).not.toContain("172.16.0.104:2379");
  });

  test("THEN phase 2 boots node4 only after registration, as an existing-cluster member listing the cluster plus itself", () => {
    expect(instanceOf(grown.json, "etcd_node4").depends_on).toContain(steps(grown.json, "etcd_node4").register.address);
    expect(memberConf(grown.json, "etcd_node4")).toMatchObject({
      ETCD_INITIAL_CLUSTER_STATE: "existing",
      ETCD_INITIAL_CLUSTER:
        "etcd_node1=https://172.16.0.101:2380,etcd_node2=https://172.16.0.102:2380,etcd_node3=https://172.16.0.103:2380,etcd_node4=https://172.16.0.104:2380",
      ETCD_INITIAL_CLUSTER_TOKEN: memberConf(grown.json, "etcd_node1").ETCD_INITIAL_CLUSTER_TOKEN,
    });
    // The recipe's typo (node2 given .101) cannot happen: every URL comes from that member's own IP.
    expect(memberConf(grown.json, "etcd_node4").ETCD_INITIAL_CLUSTER).not.toContain("etcd_node2=https://172.16.0.101");
  });

  test("THEN phase 3 promotes node4 after its VM, and the same resource removes it on destroy", () => {
    const voter = steps(grown.json, "etcd_node4").voter;
    expect(voter.depends_on).toEqual([
      addressOf(grown.json, "etcd_node4"),
      expect.stringMatching(/^aws_volume_attachment\.etcd_etcd_node4-data_attachment_/),
      steps(grown.json, "etcd_node3").voter.address,
    ]);
    expect(commands(voter).map((c) => `${c.when} ${c.command.split(" ")[2]}`)).toEqual(["create promote", "destroy remove"]);
    expect(commands(voter)[0].command).toContain("--timeout=900");
  });

  test("THEN bootstrap members get a destroy-time remove and nothing at create", () => {
    for (const m of SEED) {
      const lifecycle = steps(grown.json, m.name);
      expect(lifecycle.register).toBeUndefined();
      expect(commands(lifecycle.voter).map((c) => `${c.when} ${c.command.split(" ")[2]}`)).toEqual(["destroy remove"]);
    }
  });

  test("THEN the membership script ships inside the stack as an asset, no etcdctl needed", () => {
    const app = Testing.app();
    const { json, stackDir } = synthCluster({ members: [...SEED, NODE4] }, { pkiDirectory, app });
    app.synth();
    const script = commands(steps(json, "etcd_node4").voter)[0].command.split(" ")[1];
    expect(fs.readFileSync(path.join(stackDir, script), "utf8")).toBe(
      fs.readFileSync(path.join(__dirname, "..", "..", "lib", "membership", "etcd-membership.js"), "utf8")
    );
  });
});

describe("a whole-cluster destroy removes one member at a time, each asking itself first", () => {
  const { json } = synthCluster({ members: [...SEED, NODE4] });
  const names = [...SEED, NODE4].map((m) => m.name);

  test("THEN each member's step depends on the previous member's, so Terraform destroys them last first, in turn", () => {
    expect(steps(json, "etcd_node1").voter.depends_on).toEqual([
      addressOf(json, "etcd_node1"),
      expect.stringMatching(/^aws_volume_attachment\./),
    ]);
    for (let i = 1; i < names.length; i++) {
      expect(steps(json, names[i]).voter.depends_on).toContain(steps(json, names[i - 1]).voter.address);
    }
  });

  test.each(names.map((name, i) => [name, i]))("THEN %s's remove asks itself first, then the other running members", (name, i) => {
    const remove = commands(steps(json, name).voter).find((c) => c.when === "destroy")!;
    const endpoints = /--endpoints=(\S+)/.exec(remove.command)![1].split(",");
    const own = `https://172.16.0.10${i + 1}:2379`;
    expect(endpoints[0]).toBe(own);
    expect([...endpoints].sort()).toEqual(names.map((_, j) => `https://172.16.0.10${j + 1}:2379`).sort());
  });

  test("THEN add and promote ask only the other members: the joiner is not running yet", () => {
    const node4 = steps(json, "etcd_node4");
    for (const c of [...commands(node4.register), commands(node4.voter)[0]]) expect(c.command).not.toContain("https://172.16.0.104:2379");
  });
});

describe("several joining members are serialized, one learner at a time", () => {
  const { json } = synthCluster({ members: [...SEED, NODE4, NODE5] });

  test("THEN node5 registers only after node4 has been promoted", () => {
    expect(steps(json, "etcd_node5").register.depends_on).toEqual([steps(json, "etcd_node4").voter.address]);
    expect(steps(json, "etcd_node4").register.depends_on).toBeUndefined();
  });

  test("THEN node5's INITIAL_CLUSTER includes node4", () => {
    expect(
      memberConf(json, "etcd_node5")
        .ETCD_INITIAL_CLUSTER.split(",")
        .map((e) => e.split("=")[0])
    ).toEqual(["etcd_node1", "etcd_node2", "etcd_node3", "etcd_node4", "etcd_node5"]);
  });
});

describe("removing a member", () => {
  const pkiDirectory = tempPki();
  const grown = synthCluster({ members: [...SEED, NODE4] }, { pkiDirectory });
  const shrunk = synthCluster({ members: [...SEED, { ...NODE4, removed: true }] }, { pkiDirectory });

  test("THEN the removed member's blocks stay with count 0, so Terraform runs their destroy-time remove", () => {
    expect(instanceOf(shrunk.json, "etcd_node4").count).toBe(0);
    expect(steps(shrunk.json, "etcd_node4").voter.count).toBe(0);
    expect(steps(shrunk.json, "etcd_node4").register.count).toBe(0);
    expect(commands(steps(shrunk.json, "etcd_node4").voter)[1].command).toContain(" remove ");
  });

  test("THEN the others keep byte-identical user data and node4 leaves the endpoints", () => {
    for (const m of SEED) expect(instanceOf(shrunk.json, m.name).user_data).toBe(instanceOf(grown.json, m.name).user_data);
    expect(shrunk.json.output.etcd_client_endpoints.value).not.toContain("172.16.0.104");
  });

  test("GIVEN a bootstrap member removed THEN the remaining bootstrap members' user data is unchanged", () => {
    const without2 = synthCluster({ members: [SEED[0], { ...SEED[1], removed: true }, SEED[2]] }, { pkiDirectory });
    expect(userDataOf(without2.json, "etcd_node1")).toBe(userDataOf(grown.json, "etcd_node1"));
    expect(instanceOf(without2.json, "etcd_node2").count).toBe(0);
  });
});

describe("register only: stop after phase 1", () => {
  const { json } = synthCluster({ members: [...SEED, { ...NODE4, registerOnly: true }] });

  test("THEN node4 is registered but no VM is launched and nothing is promoted", () => {
    expect(steps(json, "etcd_node4").register.count).toBe(1);
    expect(instanceOf(json, "etcd_node4").count).toBe(0);
    expect(steps(json, "etcd_node4").voter.count).toBe(0);
    expect(json.output.etcd_client_endpoints.value).not.toContain("172.16.0.104");
  });
});

describe("membership changes etcd would refuse, or that would lose quorum, fail at synth", () => {
  test.each<[string, EtcdMemberProps[], RegExp]>([
    [
      "removing 2 of 3 at once",
      [{ ...SEED[0], removed: true }, { ...SEED[1], removed: true }, SEED[2]],
      /2 of 3 members have removed: true .* fewer than the quorum of 2: remove at most 1 per deploy/,
    ],
    ["removing every member", SEED.map((m) => ({ ...m, removed: true })), /every member has removed: true: .*cdktf destroy/],
    [
      "a register-only bootstrap member",
      [...SEED.slice(0, 2), { ...SEED[2], registerOnly: true }],
      /members\[2\]\.registerOnly is true but etcd_node3 bootstraps the cluster/,
    ],
    [
      "a register-only member before another joiner",
      [...SEED, { ...NODE4, registerOnly: true }, NODE5],
      /members\[3\] \(etcd_node4\) is registerOnly but members after it join too/,
    ],
    [
      "a bootstrap member after a joiner",
      [...SEED.slice(0, 2), NODE4, SEED[2]],
      /members\[3\] \(etcd_node3\) bootstraps the cluster \("new"\) but comes after members\[2\] \(etcd_node4\)/,
    ],
    ["only joining members", [NODE4, NODE5], /every member has initialClusterState "existing"/],
  ])("GIVEN %s THEN synth throws and writes nothing", (_, members, message) => {
    const pkiDirectory = tempPki("empty");
    expect(() => synthCluster({ members }, { pkiDirectory })).toThrow(EtcdClusterConfigError);
    expect(() => synthCluster({ members }, { pkiDirectory })).toThrow(message);
    expect(fs.readdirSync(pkiDirectory)).toEqual([]);
  });
});
