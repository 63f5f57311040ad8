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

/**
 * The stack as 0.1 synthesized it, from this version's synth with 0.1's direct transport: every
 * resource at its moved block's "from" address (the voter steps were "member", the roles and
 * profiles belonged to the key parameters), no moved blocks, no CA pin.
 */
function as01(direct: string): string {
  const json = JSON.parse(direct) as { moved: { from: string; to: string }[] };
  const id = (address: string) => address.slice(address.indexOf(".") + 1);
  let text = direct;
  for (const { from, to } of json.moved) text = text.split(id(to)).join(id(from));
  const old = JSON.parse(text);
  delete old.moved;
  for (const id of Object.keys(old.resource.terraform_data)) if (/^etcd_ca_(pin|guard)_/.test(id)) delete old.resource.terraform_data[id];
  return JSON.stringify(old, null, 2);
}

test("GIVEN a cluster deployed with 0.1's membership addresses WHEN this version's synth is deployed THEN the state moves and no member is removed", async () => {
  // GIVEN the seed cluster deployed from the stack as 0.1 synthesized it
  requireLabHost();
  await labDown(LAB, { log: () => undefined });
  const file = join(project.synth(SEED, { membershipTransport: "direct" }), "cdk.tf.json");
  writeFileSync(file, as01(readFileSync(file, "utf8")));
  const lab = await project.deploy();
  const before = (await memberList(lab)).map((m) => `${m.name} ${m.ID}`).sort();
  expect(before).toHaveLength(3);

  // WHEN this version's synth (the SSM transport, the default) is deployed over it
  project.synth(SEED);
  const mark = project.log.length;
  const t = Date.now();
  await project.deploy();
  record(LAB, "deploy of the moved voter steps over 0.1's state", Date.now() - t);
  const log = project.since(mark);

  // THEN Terraform moved each member's voter step, role and instance profile, and planned nothing
  // else but the CA pin and its guard, the SSM policy attachments, and in-place updates: the steps'
  // input gains the region, the roles' description changes
  // (a moved resource without changes "has moved to" its new address; one with changes is updated "(moved from ...)")
  const movedFrom = log.flatMap((l) => /# (\S+) has moved to \S+/.exec(l)?.[1] ?? /# \(moved from (\S+)\)/.exec(l)?.[1] ?? []);
  const moved = (JSON.parse(readFileSync(file, "utf8")) as { moved: { from: string }[] }).moved.map((m) => m.from);
  expect(moved).toHaveLength(9);
  // (the voter steps are counted: Terraform names instance [0])
  expect([...new Set(movedFrom.map((a) => a.replace(/\[0\]$/, "")))].sort()).toEqual(moved.sort());
  expect(log).toContainEqual(expect.stringMatching(/Plan: 5 to add, 6 to change, 0 to destroy/));
  expect(log.filter((l) => /terraform_data\.etcd_ca_(pin|guard)_[0-9A-F]+: Creation complete/.test(l))).toHaveLength(2);
  // AND no member remove ran: the members and their ids are those of before
  expect(log.filter((l) => /\[etcd remove\]/.test(l))).toEqual([]);
  expect((await memberList(lab)).map((m) => `${m.name} ${m.ID}`).sort()).toEqual(before);
  // AND Terraform sees nothing left to do
  expect(await project.plan()).toBe(0);
});
