// Issue 3: etcd_node4 added to the running seed cluster and removed again by applying later
// syntheses of the same stack, the membership steps running as Terraform orders them.
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

/** Index of the first log line matching every pattern; -1 if none. */
function lineIndex(log: string[], ...patterns: RegExp[]): number {
  return log.findIndex((l) => patterns.every((p) => p.test(l)));
}

test("applying the synth with node4 registers, launches and promotes it, in that order, leaving nodes 1-3 alone", async () => {
  // GIVEN the seed lab with keys, its members' pids and the time their etcd.conf was written
  const pids = SEED_NAMES.map((m) => lab.pid(m));
  const confWritten = SEED_NAMES.map((m) => statSync(join(lab.memberRoot(m), "etc/etcd/etcd.conf")).mtimeMs);

  // WHEN the stack synthesized with etcd_node4 is applied
  const log: string[] = [];
  const result = await lab.apply(seed.syntheses.synth([...SEED, NODE4]), { log: (l) => log.push(l) });
  record(LAB, "apply with etcd_node4 (register, launch, promote)", result.durationMs);
  process.stderr.write(`[real ${LAB}] apply with etcd_node4 printed:\n${log.join("\n")}\n`);

  // THEN the register step ran from the deployer namespace, then the VM was created, then promote ran
  const registered = lineIndex(log, /membership_register/, /Creation complete/);
  const launched = lineIndex(log, /aws_instance\.etcd_etcd_node4_instance/, /Creating\.\.\./);
  const promoting = lineIndex(log, /node4-membership_member/, new RegExp(`Executing in ${LAB}-deployer: .*etcd-membership\\.js promote`));
  const promoted = lineIndex(log, /node4-membership_member/, /Creation complete/);
  expect(
    lineIndex(log, /membership_register/, new RegExp(`Executing in ${LAB}-deployer: .*etcd-membership\\.js add --name=etcd_node4`))
  ).toBeGreaterThanOrEqual(0);
  expect(lineIndex(log, /\[etcd add\] added etcd_node4/)).toBeLessThan(registered);
  expect([registered, launched, promoting, promoted].every((i) => i >= 0)).toBe(true);
  expect(registered).toBeLessThan(launched);
  expect(launched).toBeLessThan(promoting);
  expect(promoting).toBeLessThan(promoted);
  expect(lineIndex(log, /\[etcd promote\] promoted etcd_node4/)).toBeLessThan(promoted);

  // AND etcd_node4 is a voting member (not a learner) and healthy
  const members = await memberList(lab);
  expect(members.map((m) => m.name).sort()).toEqual([...SEED_NAMES, "etcd_node4"]);
  expect(members.find((m) => m.name === "etcd_node4")!.isLearner ?? false).toBe(false);
  await lab.waitHealthy(["etcd_node4"], 30_000);
  // AND nodes 1-3 were not touched: same processes, files not rewritten
  expect(SEED_NAMES.map((m) => lab.pid(m))).toEqual(pids);
  expect(SEED_NAMES.map((m) => statSync(join(lab.memberRoot(m), "etc/etcd/etcd.conf")).mtimeMs)).toEqual(confWritten);
  expect(result.unchanged).toEqual(expect.arrayContaining(SEED_NAMES.map((m) => `aws_instance.${lab.member(m).logicalId}`)));
});

test("applying the synth with node4 removed runs its member remove before its VM goes", async () => {
  // GIVEN etcd_node4 is a voting member (previous test)
  const pids = SEED_NAMES.map((m) => lab.pid(m));

  // WHEN the stack synthesized with etcd_node4 `removed: true` is applied
  const log: string[] = [];
  const result = await lab.apply(seed.syntheses.synth([...SEED, { ...NODE4, removed: true }]), { log: (l) => log.push(l) });
  record(LAB, "apply with etcd_node4 removed (remove, terminate)", result.durationMs);
  process.stderr.write(`[real ${LAB}] apply with etcd_node4 removed printed:\n${log.join("\n")}\n`);

  // THEN its destroy-time `remove` ran from the deployer namespace and finished before its VM was destroyed
  const removing = lineIndex(
    log,
    /node4-membership_member/,
    new RegExp(`Executing in ${LAB}-deployer: .*etcd-membership\\.js remove --name=etcd_node4`)
  );
  const removed = lineIndex(log, /node4-membership_member/, /Destruction complete/);
  const terminating = lineIndex(log, /aws_instance\.etcd_etcd_node4_instance/, /Destroying\.\.\./);
  expect([removing, removed, terminating].every((i) => i >= 0)).toBe(true);
  expect(lineIndex(log, /\[etcd remove\] removed etcd_node4/)).toBeLessThan(removed);
  expect(removing).toBeLessThan(removed);
  expect(removed).toBeLessThan(terminating);

  // AND the member list is back to three, node4's VM is gone, nodes 1-3 still the same processes
  expect((await memberList(lab)).map((m) => m.name).sort()).toEqual(SEED_NAMES);
  expect(lab.memberNames).toEqual(SEED_NAMES);
  expect(SEED_NAMES.map((m) => lab.pid(m))).toEqual(pids);
  await lab.waitHealthy(undefined, 30_000);

  // AND every key written before the add is still there
  expect(await readKeys(lab, "before")).toEqual(before);
});
