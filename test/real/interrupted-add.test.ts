// Issue 9: a deploy interrupted in the middle of adding a member (Ctrl-C while Terraform runs the
// promote step) leaves a state that the next deploy converges from: one node4, voting, no error.
import { TerraformFailed } from "../../lib/lab";
import { memberList, NODE4, record, SEED, useSeedLab } from "./real-lab";

const LAB = "realinterrupt";
const seed = useSeedLab(LAB);

test("GIVEN a deploy adding node4 interrupted during its promote step WHEN deployed again THEN node4 is one voting member and nothing is left to do", async () => {
  // GIVEN the synth with node4, deployed until Terraform starts node4's promote step, then interrupted
  seed.project.synth([...SEED, NODE4]);
  const interrupt = new AbortController();
  const watch = setInterval(() => {
    if (seed.project.log.some((l) => /node4-membership_voter\S*\[0\]: Creating\.\.\./.test(l))) interrupt.abort();
  }, 10);
  const interrupted = await seed.project.deploy({ signal: interrupt.signal }).catch((e: Error) => e);
  clearInterval(watch);
  expect(interrupted).toBeInstanceOf(TerraformFailed);
  expect(seed.project.log).toContainEqual(expect.stringMatching(/Interrupt received/));

  // WHEN the same deploy runs again
  const t = Date.now();
  const mark = seed.project.log.length;
  const lab = await seed.project.deploy();
  record(LAB, "deploy again after an interrupted add", Date.now() - t);

  // THEN it succeeds with exactly one node4, a voting member, and Terraform sees nothing left to do
  const node4 = (await memberList(lab)).filter((m) => m.peerURLs.includes("https://172.16.0.104:2380"));
  expect(node4).toHaveLength(1);
  expect(node4[0]).toMatchObject({ name: "etcd_node4" });
  expect(node4[0].isLearner ?? false).toBe(false);
  expect(seed.project.since(mark).filter((l) => /Error/.test(l))).toEqual([]);
  expect(await seed.project.plan()).toBe(0);
});
