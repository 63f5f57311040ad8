// A network partition that isolates the leader: the majority elects another and keeps writing;
// healed, the old leader rejoins as a follower and catches up.
import type { Lab } from "../../lib/lab";
import { expectMemberHolds, putKeys, readKeys, timed, waitLeader, useSeedLab } from "./real-lab";

const LAB = "realpart";
const seed = useSeedLab(LAB);
let lab: Lab;

beforeAll(() => (lab = seed.lab));

test("the partitioned leader is replaced, writes go on, and after healing it reads the new keys", async () => {
  // GIVEN keys written to the healthy seed cluster, and its leader
  const before = await putKeys(lab, "before", 20);
  const oldLeader = await waitLeader(lab, lab.memberNames);
  const others = lab.memberNames.filter((m) => m !== oldLeader);

  // WHEN the leader is cut off the lab network (its process keeps running)
  lab.partition(oldLeader);

  // THEN the other two elect a leader among themselves
  const newLeader = await timed(LAB, "new leader elected after partitioning the leader", () => waitLeader(lab, others));
  expect(others).toContain(newLeader);
  expect(lab.isRunning(oldLeader)).toBe(true);
  // AND writes through them succeed
  const during = await timed(LAB, "writes through the majority", () =>
    putKeys(
      lab,
      "during",
      20,
      others.map((m) => lab.clientUrl(m))
    )
  );

  // WHEN the partition heals
  lab.heal();

  // THEN the old leader is healthy again and holds the keys written while it was cut off, and the old ones
  await timed(LAB, `${oldLeader} healthy after healing`, () => lab.waitHealthy([oldLeader], 30_000));
  await expectMemberHolds(lab, oldLeader, "during", during);
  await expectMemberHolds(lab, oldLeader, "before", before);
  expect(await readKeys(lab, "before")).toEqual(before);
});
