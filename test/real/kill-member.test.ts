// A crash of one member of three: the other two keep the cluster writable, and the member comes
// back from its own data directory, catching up on what it missed.
import type { Lab } from "../../lib/lab";
import { expectMemberHolds, putKeys, readKeys, timed, waitLeader, useSeedLab } from "./real-lab";

const LAB = "realkill";
const seed = useSeedLab(LAB);
let lab: Lab;

beforeAll(() => (lab = seed.lab));

test("with a member killed writes go on, and once restarted it serves every key", async () => {
  // GIVEN keys written to the healthy seed cluster
  const before = await putKeys(lab, "before", 20);
  const leader = await waitLeader(lab, lab.memberNames);
  const victim = lab.memberNames.find((m) => m !== leader)!;

  // WHEN a follower is killed (SIGKILL, as a crash)
  await lab.kill(victim);
  expect(lab.isRunning(victim)).toBe(false);

  // THEN the two others still take writes
  const during = await timed(LAB, `writes with ${victim} killed`, () => putKeys(lab, "during", 20));

  // WHEN it is started again
  lab.start(victim);
  await timed(LAB, `${victim} healthy again after its restart`, () => lab.waitHealthy([victim], 30_000));

  // THEN from its own data it serves the keys written before the crash and those it missed
  await expectMemberHolds(lab, victim, "before", before);
  await expectMemberHolds(lab, victim, "during", during);
  // AND the cluster as a whole has every key
  expect(await readKeys(lab, "before")).toEqual(before);
});
