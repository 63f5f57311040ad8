// Upgrading from 0.1, through the real Terraform: each member's voter step was called "member"
// then, and there was no CA pin. A cluster deployed with 0.1's stack and deployed again with this
// version keeps every member: Terraform moves the state to the new addresses, so no member remove
// runs, and pins the CA the cluster has.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labDown } from "../../lib/lab";
import { LabProject, memberList, record, requireLabHost, SEED } from "./real-lab";

const LAB = "realmoved";
const project = new LabProject(LAB);

afterAll(() => project.remove());

/** The stack as 0.1 synthesized it: the voter steps at the moved blocks' "from" addresses, no moved blocks, no CA pin. */
function as01(current: string): string {
  const json = JSON.parse(current) as { moved: { from: string; to: string }[] };
  let text = current;
  for (const { from, to } of json.moved) text = text.split(to.replace(/^terraform_data\./, "")).join(from.replace(/^terraform_data\./, ""));
  const old = JSON.parse(text);
  delete old.moved;
  for (const id of Object.keys(old.resource.terraform_data)) if (/^etcd_ca_(pin|guard)_/.test(id)) delete old.resource.terraform_data[id];
  return JSON.stringify(old, null, 2);
}

test("GIVEN a cluster deployed with 0.1's membership addresses WHEN this version's synth is deployed THEN the state moves and no member is removed", async () => {
  // GIVEN the seed cluster deployed from the stack as 0.1 synthesized it
  requireLabHost();
  await labDown(LAB, { log: () => undefined });
  const file = join(project.synth(SEED), "cdk.tf.json");
  const current = readFileSync(file, "utf8");
  expect(JSON.parse(current).moved).toHaveLength(3);
  writeFileSync(file, as01(current));
  const lab = await project.deploy();
  const before = (await memberList(lab)).map((m) => `${m.name} ${m.ID}`).sort();
  expect(before).toHaveLength(3);

  // WHEN this version's synth is deployed over it
  writeFileSync(file, current);
  const mark = project.log.length;
  const t = Date.now();
  await project.deploy();
  record(LAB, "deploy of the moved voter steps over 0.1's state", Date.now() - t);
  const log = project.since(mark);

  // THEN Terraform moved each member's state and planned nothing else but the CA pin and its guard
  const moves = log.filter((l) =>
    /# terraform_data\.etcd_etcd_node\d-membership_member_[0-9A-F]+\S* has moved to terraform_data\.etcd_etcd_node\d-membership_voter_/.test(
      l
    )
  );
  expect(moves).toHaveLength(3);
  expect(log.some((l) => /Plan: 2 to add, 0 to change, 0 to destroy/.test(l))).toBe(true);
  expect(log.filter((l) => /terraform_data\.etcd_ca_(pin|guard)_[0-9A-F]+: Creation complete/.test(l))).toHaveLength(2);
  // AND no member remove ran: the members and their ids are those of before
  expect(log.filter((l) => /\[etcd remove\]/.test(l))).toEqual([]);
  expect((await memberList(lab)).map((m) => `${m.name} ${m.ID}`).sort()).toEqual(before);
  // AND Terraform sees nothing left to do
  expect(await project.plan()).toBe(0);
});
