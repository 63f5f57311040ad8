// Issue 3, through the real Terraform: etcd_node4 added to the running seed cluster and removed
// again by deploying later syntheses of the same project, the membership steps run by Terraform.
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../../lib/lab";
import { memberList, NODE4, putKeys, readKeys, record, SEED, useSeedLab } from "./real-lab";

const LAB = "realadd";
const seed = useSeedLab(LAB);
let lab: Lab;
let before: Record<string, string>;
const SEED_NAMES = SEED.map((m) => m.name);

beforeAll(async () => {
  lab = seed.lab;
  before = await putKeys(lab, "before", 30);
});

/** Index of the first log line (from `from` on) matching every pattern; -1 if none. */
function lineIndex(log: string[], ...patterns: RegExp[]): number {
  return log.findIndex((l) => patterns.every((p) => p.test(l)));
}

test("GIVEN the seed cluster WHEN the synth with node4 is deployed THEN Terraform registers, launches and promotes it, in that order, leaving nodes 1-3 alone", async () => {
  // GIVEN the seed lab with keys, its members' pids and the time their etcd.conf was written
  const pids = SEED_NAMES.map((m) => lab.pid(m));
  const confWritten = SEED_NAMES.map((m) => statSync(join(lab.memberRoot(m), "etc/etcd/etcd.conf")).mtimeMs);

  // WHEN the stack synthesized with etcd_node4 is deployed
  const mark = seed.project.log.length;
  seed.project.synth([...SEED, NODE4]);
  const t = Date.now();
  await seed.project.deploy();
  record(LAB, "deploy with etcd_node4 (register, launch, promote)", Date.now() - t);
  const log = seed.project.since(mark);

  // THEN Terraform planned exactly node4's resources, and ran register, then the VM, then promote
  expect(log.some((l) => /Plan: 7 to add, 0 to change, 0 to destroy/.test(l))).toBe(true);
  const registered = lineIndex(log, /node4-membership_register\S*\[0\]: Creation complete/);
  const launched = lineIndex(log, /aws_instance\.etcd_etcd_node4_instance\S*\[0\]: Creating\.\.\./);
  const promoted = lineIndex(log, /node4-membership_voter\S*\[0\]: Creation complete/);
  expect(lineIndex(log, /node4-membership_register.*\(local-exec\): \[etcd add\] added etcd_node4/)).toBeLessThan(registered);
  expect([registered, launched, promoted].every((i) => i >= 0)).toBe(true);
  expect(registered).toBeLessThan(launched);
  expect(launched).toBeLessThan(promoted);
  expect(lineIndex(log, /node4-membership_voter.*\(local-exec\): \[etcd promote\] promoted etcd_node4/)).toBeLessThan(promoted);

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

  // THEN its destroy-time `remove` finished before its VM was destroyed
  const removed = lineIndex(log, /node4-membership_voter\S*\[0\]: Destruction complete/);
  const terminating = lineIndex(log, /aws_instance\.etcd_etcd_node4_instance\S*\[0\]: Destroying\.\.\./);
  expect([removed, terminating].every((i) => i >= 0)).toBe(true);
  expect(lineIndex(log, /node4-membership_voter.*\(local-exec\): \[etcd remove\] removed etcd_node4/)).toBeLessThan(removed);
  expect(removed).toBeLessThan(terminating);

  // AND the member list is back to three, node4's VM is gone, nodes 1-3 still the same processes
  expect((await memberList(lab)).map((m) => m.name).sort()).toEqual(SEED_NAMES);
  expect(lab.memberNames).toEqual(SEED_NAMES);
  expect(SEED_NAMES.map((m) => lab.pid(m))).toEqual(pids);
  await lab.waitHealthy(undefined, 30_000);

  // AND every key written before the add is still there, and Terraform sees nothing left to do
  expect(await readKeys(lab, "before")).toEqual(before);
  expect(await seed.project.plan()).toBe(0);
});
