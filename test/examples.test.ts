import { Testing } from "../lib/cdktf";
import { GROWN_MEMBERS } from "../examples/add-node/members";
import { SeedClusterStack } from "../examples/seed-cluster/stack";
import { SEED_MEMBERS } from "../examples/seed-cluster/members";
import { tempPki } from "./support/synth";

describe("examples", () => {
  test("GIVEN the seed and add-node examples on one PKI THEN nodes 1-3 synthesize byte-identical user data", () => {
    const pkiDirectory = tempPki();
    const userData = (members: typeof SEED_MEMBERS) => {
      const stack = new SeedClusterStack(Testing.app(), "seed-cluster", { members, pkiDirectory });
      const json = JSON.parse(Testing.synth(stack));
      return new Map(Object.values(json.resource.aws_instance).map((i: any) => [i.tags["etcd:member"], i.user_data]));
    };
    const seed = userData(SEED_MEMBERS);
    const grown = userData(GROWN_MEMBERS);
    expect([...grown.keys()]).toEqual(["etcd_node1", "etcd_node2", "etcd_node3", "etcd_node4"]);
    for (const name of seed.keys()) expect(grown.get(name)).toBe(seed.get(name));
  });
});
