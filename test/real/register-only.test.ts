// A member registered but not launched (`registerOnly`) is an unstarted learner: it does not count
// toward quorum, so the cluster still writes with another member down. Launched later, it is promoted.
import type { Lab } from "../../lib/lab";
import { expectMemberHolds, labCli, memberList, NODE4, putKeys, readKeys, record, SEED, timed, useSeedLab } from "./real-lab";

const LAB = "realreg";
const seed = useSeedLab(LAB);
let lab: Lab;
let before: Record<string, string>;

beforeAll(async () => {
  lab = seed.lab;
  before = await putKeys(lab, "before", 20);
});

test("a registered, unlaunched node4 is an unstarted learner, and with another member stopped writes still succeed", async () => {
  // WHEN the stack synthesized with etcd_node4 `registerOnly: true` is deployed
  seed.project.synth([...SEED, { ...NODE4, registerOnly: true }]);
  const t = Date.now();
  await seed.project.deploy();
  record(LAB, "deploy with etcd_node4 registerOnly", Date.now() - t);

  // THEN node4 is registered but has no VM: an unstarted learner at its peer URL
  expect(lab.memberNames).not.toContain("etcd_node4");
  const node4 = (await memberList(lab)).find((m) => m.peerURLs.includes("https://172.16.0.104:2380"));
  expect(node4).toMatchObject({ isLearner: true });
  expect(node4!.name ?? "").toBe("");
  // AND the operator's status shows it as the recipe does
  const status = await labCli(["status", "--name", LAB]);
  expect(status.lines).toContainEqual(
    expect.stringMatching(/^[0-9a-f]+\[unstarted\]: peerURLs=https:\/\/172\.16\.0\.104:2380 isLearner=true$/)
  );
  expect(status.lines).toContain("cluster is healthy: 3 voting member(s), 1 learner(s)");

  // WHEN another member is stopped
  await lab.stop("etcd_node3");

  // THEN writes still succeed: two of three voters are a quorum, the learner does not count
  const during = await timed(LAB, "writes with etcd_node3 stopped and node4 unstarted", () => putKeys(lab, "during", 10));
  expect(await readKeys(lab, "during")).toEqual(during);
  expect(await readKeys(lab, "before")).toEqual(before);
});

test("applying the synth without registerOnly launches node4 and promotes it", async () => {
  // GIVEN node4 registered only, etcd_node3 stopped (previous test)
  // WHEN the stack synthesized with etcd_node4 as a plain joiner is deployed
  const mark = seed.project.log.length;
  seed.project.synth([...SEED, NODE4]);
  const t = Date.now();
  await seed.project.deploy();
  record(LAB, "deploy launching and promoting the registered node4", Date.now() - t);
  const log = seed.project.since(mark);

  // THEN only its VM, its key and promote step were created (it was already registered)
  const created = log.map((l) => /\] (\S+)\[0\]: Creation complete/.exec(l)?.[1]).filter((a): a is string => !!a);
  expect(created.filter((a) => /^(aws_instance|terraform_data)\./.test(a))).toEqual([
    expect.stringMatching(/^aws_instance\.etcd_etcd_node4_instance/),
    expect.stringMatching(/^terraform_data\.etcd_etcd_node4-membership_voter/),
  ]);
  expect(log).toContainEqual(expect.stringMatching(/\[etcd promote\] promoted etcd_node4/));
  // AND it is a healthy voting member holding every key
  const members = await memberList(lab);
  expect(members.find((m) => m.name === "etcd_node4")).toBeDefined();
  expect(members.every((m) => !m.isLearner)).toBe(true);
  await lab.waitHealthy(["etcd_node4"], 30_000);
  await expectMemberHolds(lab, "etcd_node4", "before", before);

  // AND with etcd_node3 back, all four are healthy
  lab.start("etcd_node3");
  await lab.waitHealthy(undefined, 30_000);
  expect(await readKeys(lab, "before")).toEqual(before);
});
