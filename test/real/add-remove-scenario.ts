// Issues 3 and 13, through the real Terraform: etcd_node4 added to the running seed cluster and
// removed again by deploying later syntheses of the same project, then the whole stack destroyed,
// the membership steps run by Terraform over one transport. Each suite runs it for one deployer.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Lab } from "../../lib/lab";
import { labCli, memberList, NODE4, putKeys, readKeys, record, SEED, useSeedLab } from "./real-lab";

export interface TransportCase {
  readonly labName: string;
  readonly transport: "ssm" | "direct";
  readonly deployer: "inside" | "outside";
}

const SEED_NAMES = SEED.map((m) => m.name);

/** Index of the first log line matching every pattern; -1 if none. */
function lineIndex(log: string[], ...patterns: RegExp[]): number {
  return log.findIndex((l) => patterns.every((p) => p.test(l)));
}

export function addRemoveDestroy({ labName: LAB, transport, deployer }: TransportCase): void {
  const seed = useSeedLab(LAB, { clusterProps: { membershipTransport: transport }, deployer });
  let lab: Lab;
  let before: Record<string, string>;

  beforeAll(async () => {
    lab = seed.lab;
    before = await putKeys(lab, "before", 30);
  });

  /** The membership steps' own lines: the transport they say they use, and none of another. */
  function expectTransport(log: string[]): void {
    const steps = log.filter((l) => /\(local-exec\): \[etcd (add|promote|remove)\]/.test(l));
    expect(steps.length).toBeGreaterThan(0);
    const viaSsm = steps.filter((l) => /through SSM Run Command on the members \(cluster etcd-[0-9a-f]{16}\)/.test(l));
    if (transport === "ssm") expect(viaSsm.length).toBeGreaterThan(0);
    else expect(viaSsm).toEqual([]);
  }

  /** The API calls the lab's AWS endpoint answered since `mark` (a length of its log): only the deployer may make them. */
  function endpointCallsSince(mark: number): string[] {
    return lab
      .awsEndpointLog()
      .slice(mark)
      .split("\n")
      .filter((l) => l.includes(" POST / "))
      // A booting member's own call (its key, with the instance's credentials) is not the deployer's.
      .filter((l) => !l.includes("AmazonSSM.GetParameter "))
      .map((l) => l.split(" ").slice(-2).join(" "));
  }

  test("GIVEN the seed cluster WHEN the synth with node4 is deployed THEN Terraform registers, launches and promotes it, in that order, leaving nodes 1-3 alone", async () => {
    // GIVEN the seed lab with keys, its members' pids and the time their etcd.conf was written
    const pids = SEED_NAMES.map((m) => lab.pid(m));
    const confWritten = SEED_NAMES.map((m) => statSync(join(lab.memberRoot(m), "etc/etcd/etcd.conf")).mtimeMs);

    // WHEN the stack synthesized with etcd_node4 is deployed
    const mark = seed.project.log.length;
    const endpointMark = lab.awsEndpointLog().length;
    seed.project.synth([...SEED, NODE4]);
    const t = Date.now();
    await seed.project.deploy();
    record(LAB, "deploy with etcd_node4 (register, launch, promote)", Date.now() - t);
    const log = seed.project.since(mark);

    // THEN Terraform planned exactly node4's resources, and ran register, then the VM, then promote
    // (its role, profile, key parameter and policy, VM, data volume and attachment, and two steps;
    // and Run Command's policy attachment)
    const adds = transport === "ssm" ? 10 : 9;
    expect(log.some((l) => l.includes(`Plan: ${adds} to add, 0 to change, 0 to destroy`))).toBe(true);
    const registered = lineIndex(log, /node4-membership_register\S*\[0\]: Creation complete/);
    const launched = lineIndex(log, /aws_instance\.etcd_etcd_node4_instance\S*\[0\]: Creating\.\.\./);
    const promoted = lineIndex(log, /node4-membership_voter\S*\[0\]: Creation complete/);
    expect(lineIndex(log, /node4-membership_register.*\(local-exec\): \[etcd add\] added etcd_node4/)).toBeLessThan(registered);
    expect([registered, launched, promoted].every((i) => i >= 0)).toBe(true);
    expect(registered).toBeLessThan(launched);
    expect(launched).toBeLessThan(promoted);
    expect(lineIndex(log, /node4-membership_voter.*\(local-exec\): \[etcd promote\] promoted etcd_node4/)).toBeLessThan(promoted);
    expectTransport(log);
    // AND with the SSM transport each request went to AWS's APIs, and nothing else did
    const calls = endpointCallsSince(endpointMark);
    if (transport === "ssm") {
      expect(calls).toEqual(
        expect.arrayContaining(["ec2:DescribeInstances 200", "AmazonSSM.SendCommand 200", "AmazonSSM.GetCommandInvocation 200"])
      );
    } else {
      expect(calls).toEqual([]);
    }

    // AND etcd_node4 is a voting member (not a learner) and healthy
    const members = await memberList(lab);
    expect(members.map((m) => m.name).sort()).toEqual([...SEED_NAMES, "etcd_node4"]);
    expect(members.find((m) => m.name === "etcd_node4")!.isLearner ?? false).toBe(false);
    // AND nodes 1-3 were not touched: same processes, files not rewritten
    expect(SEED_NAMES.map((m) => lab.pid(m))).toEqual(pids);
    expect(SEED_NAMES.map((m) => statSync(join(lab.memberRoot(m), "etc/etcd/etcd.conf")).mtimeMs)).toEqual(confWritten);
    // AND Terraform sees nothing left to do
    expect(await seed.project.plan()).toBe(0);
  });

  test("GIVEN node4 voting WHEN the synth with node4 removed is deployed THEN its member remove runs before its VM goes", async () => {
    const pids = SEED_NAMES.map((m) => lab.pid(m));

    // WHEN the stack synthesized with etcd_node4 `removed: true` is deployed
    const mark = seed.project.log.length;
    seed.project.synth([...SEED, { ...NODE4, removed: true }]);
    const t = Date.now();
    await seed.project.deploy();
    record(LAB, "deploy with etcd_node4 removed (remove, terminate)", Date.now() - t);
    const log = seed.project.since(mark);

    // THEN its destroy-time `remove` finished before its volume's attachment stopped its VM, and the VM went after
    const removed = lineIndex(log, /node4-membership_voter\S*\[0\]: Destruction complete/);
    const detaching = lineIndex(log, /aws_volume_attachment\.etcd_etcd_node4-data_attachment\S*\[0\]: Destroying\.\.\./);
    const terminating = lineIndex(log, /aws_instance\.etcd_etcd_node4_instance\S*\[0\]: Destroying\.\.\./);
    expect([removed, detaching, terminating].every((i) => i >= 0)).toBe(true);
    expect(lineIndex(log, /node4-membership_voter.*\(local-exec\): \[etcd remove\] removed etcd_node4/)).toBeLessThan(removed);
    expect(removed).toBeLessThan(detaching);
    expect(detaching).toBeLessThan(terminating);
    // AND its data volume went too, with a final snapshot (which the lab only records)
    expect(lineIndex(log, /aws_ebs_volume \S+: final snapshot recorded only/)).toBeGreaterThan(detaching);
    expectTransport(log);

    // AND the member list is back to three, node4's VM is gone, nodes 1-3 still the same processes
    expect((await memberList(lab)).map((m) => m.name).sort()).toEqual(SEED_NAMES);
    expect(lab.memberNames).toEqual(SEED_NAMES);
    expect(SEED_NAMES.map((m) => lab.pid(m))).toEqual(pids);
    await lab.waitHealthy(undefined, 30_000);

    // AND every key written before the add is still there, and Terraform sees nothing left to do
    expect(await readKeys(lab, "before")).toEqual(before);
    expect(await seed.project.plan()).toBe(0);
  });

  test("GIVEN the seed cluster again WHEN etcd-cluster status runs where the deployer stands THEN it sees three healthy voting members", async () => {
    // WHEN `lab status` runs the CLI in the deployer's namespace (over SSM when the deployer has no route)
    const { code, lines } = await labCli(["status", "--name", LAB]);
    // THEN
    expect(lines[0]).toMatch(
      transport === "ssm" && deployer === "outside" ? / --transport=ssm --cluster-tag etcd-[0-9a-f]{16} / : /^(?!.*--transport=ssm)/
    );
    expect(lines.filter((l) => / is healthy: got healthy result from https:\/\/172\.16\.0\.10[123]:2379$/.test(l))).toHaveLength(3);
    expect(lines).toContain("cluster is healthy: 3 voting member(s)");
    expect(code).toBe(0);
  });

  test("GIVEN the seed cluster again WHEN the whole stack is destroyed THEN the members are removed last first and nothing is left", async () => {
    // WHEN the stack is destroyed
    const mark = seed.project.log.length;
    const t = Date.now();
    await seed.project.destroy();
    record(LAB, `terraform destroy of the 3-member seed cluster (${transport} transport)`, Date.now() - t);
    const log = seed.project.since(mark);

    // THEN no step failed, and the removes went node3, node2, leaving node1 to go with the cluster
    expect(log.filter((l) => /Error|failed/.test(l))).toEqual([]);
    expectTransport(log);
    expect(log).toContainEqual(expect.stringMatching(/\(local-exec\): \[etcd remove\] removed etcd_node3 /));
    expect(log).toContainEqual(expect.stringMatching(/\(local-exec\): \[etcd remove\] removed etcd_node2 /));
    expect(log).toContainEqual(expect.stringMatching(/etcd_node1 \(https:\/\/172\.16\.0\.101:2380\) is the last member: leaving it/));
    // AND Terraform's state holds nothing, and the lab went with the stack
    const state = existsSync(seed.project.stateFile) ? JSON.parse(readFileSync(seed.project.stateFile, "utf8")) : {};
    expect(state.resources ?? []).toEqual([]);
    expect(() => Lab.attach(LAB)).toThrow(/no lab/);
  });
}
