// Issue 9: `cdktf destroy` of a running cluster, through the real Terraform. Its removes run one
// member at a time, each asking the member itself, so the last one standing is left to go with
// the cluster instead of finding nobody to ask; then the stack deploys again from scratch.
import { existsSync, readFileSync } from "node:fs";
import { Lab, labDown } from "../../lib/lab";
import { LabProject, memberList, putKeys, readKeys, record, SEED, seedLab } from "./real-lab";

const LAB = "realdestroy";
const project = new LabProject(LAB);
afterAll(() => project.remove());

/** The resources Terraform's state holds. */
function stateResources(): string[] {
  if (!existsSync(project.stateFile)) return [];
  const state = JSON.parse(readFileSync(project.stateFile, "utf8")) as { resources?: { type: string; name: string }[] };
  return (state.resources ?? []).map((r) => `${r.type}.${r.name}`);
}

test("GIVEN the deployed seed cluster WHEN the whole stack is destroyed THEN every step succeeds, one remove at a time, in under 60 s", async () => {
  // GIVEN the seed cluster, deployed, with nothing left for Terraform to do
  await seedLab(project);
  expect(await project.plan()).toBe(0);
  await putKeys(Lab.attach(LAB), "before", 10);

  // WHEN the stack is destroyed
  const mark = project.log.length;
  const t = Date.now();
  await project.destroy();
  const took = Date.now() - t;
  record(LAB, "terraform destroy of the 3-member seed cluster", took);
  const log = project.since(mark);

  // THEN it took under a minute and no step failed
  expect(took).toBeLessThan(60_000);
  expect(log.filter((l) => /Error|failed/.test(l))).toEqual([]);
  expect(log).toContainEqual(expect.stringMatching(/Destroy complete! Resources: \d+ destroyed\./));
  // AND the members were removed last first, one at a time, the last one left to go with the cluster
  const removes = log.filter((l) => /\(local-exec\): \[etcd remove\]/.test(l));
  const order = removes.map((l) => /etcd_(node\d)-membership/.exec(l)?.[1]).filter((m, i, all) => m && all.indexOf(m) === i);
  expect(order).toEqual(["node3", "node2", "node1"]);
  expect(removes).toContainEqual(expect.stringMatching(/removed etcd_node3 /));
  expect(removes).toContainEqual(expect.stringMatching(/removed etcd_node2 /));
  expect(removes).toContainEqual(expect.stringMatching(/etcd_node1 \(https:\/\/172\.16\.0\.101:2380\) is the last member: leaving it/));
  const finished = (m: string) => log.findIndex((l) => new RegExp(`etcd_${m}-membership_voter\\S*\\[0\\]: Destruction complete`).test(l));
  const started = (m: string) => log.findIndex((l) => new RegExp(`etcd_${m}-membership_voter\\S*\\[0\\]: Destroying`).test(l));
  expect(finished("node3")).toBeLessThan(started("node2"));
  expect(finished("node2")).toBeLessThan(started("node1"));
  // AND Terraform's state is empty and the lab is gone with the stack
  expect(stateResources()).toEqual([]);
  expect(() => Lab.attach(LAB)).toThrow(/no lab/);
});

test("GIVEN a destroyed stack WHEN it is deployed again THEN a new, empty cluster of the same members comes up", async () => {
  // WHEN the same project is deployed again from scratch
  const t = Date.now();
  const lab = await project.deploy();
  record(LAB, "deploy again after destroy", Date.now() - t);

  // THEN three healthy voting members, with none of the old cluster's keys, and nothing left to do
  expect((await memberList(lab)).map((m) => [m.name, m.isLearner ?? false]).sort()).toEqual(SEED.map((m) => [m.name, false]));
  expect(await readKeys(lab, "before")).toEqual({});
  expect(await project.plan()).toBe(0);
});

test("GIVEN a cluster whose every member is down WHEN destroyed with ETCD_CLUSTER_ABANDON=1 THEN it finishes, leaving the member list as it was", async () => {
  // GIVEN every member killed: no remove can ever be confirmed
  const lab = Lab.attach(LAB);
  for (const m of lab.memberNames) await lab.kill(m);

  // WHEN the operator takes the documented way out
  process.env.ETCD_CLUSTER_ABANDON = "1";
  const mark = project.log.length;
  try {
    await project.destroy();
  } finally {
    delete process.env.ETCD_CLUSTER_ABANDON;
  }

  // THEN each remove says what it left behind, and the stack is gone
  const log = project.since(mark);
  expect(log.filter((l) => /ETCD_CLUSTER_ABANDON=1: leaving etcd_node\d in etcd's member list/.test(l))).toHaveLength(3);
  expect(stateResources()).toEqual([]);
  await labDown(LAB, { log: () => undefined });
});
