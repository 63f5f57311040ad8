// Every member stopped (as `systemctl stop` on each VM) and started again: the cluster re-forms
// from the members' data directories with every key.
import type { Lab } from "../../lib/lab";
import { expectMemberHolds, putKeys, readKeys, timed, waitLeader, useSeedLab } from "./real-lab";

const LAB = "realstop";
const seed = useSeedLab(LAB);
let lab: Lab;

beforeAll(() => (lab = seed.lab));

test("all three stopped and started again come back healthy with their data", async () => {
  // GIVEN keys written to the healthy seed cluster
  const before = await putKeys(lab, "before", 30);
  const pids = lab.memberNames.map((m) => lab.pid(m));

  // WHEN every member is stopped (SIGTERM), the leader last (stopped first, it spends seconds
  // handing leadership to members that are stopping too), and nothing runs
  const leader = await waitLeader(lab, lab.memberNames);
  const order = [...lab.memberNames.filter((m) => m !== leader), leader];
  await timed(LAB, "stop all three, the leader last", async () => {
    for (const m of order) await lab.stop(m);
  });
  expect(lab.memberNames.filter((m) => lab.isRunning(m))).toEqual([]);

  // AND they are started again
  await timed(LAB, "start all three to all healthy", async () => {
    lab.memberNames.forEach((m) => lab.start(m));
    await lab.waitHealthy(undefined, 30_000);
  });

  // THEN they are new processes, all healthy, and every key is there, in each member's own data too
  expect(lab.memberNames.map((m) => lab.pid(m)).some((pid, i) => pid === pids[i])).toBe(false);
  expect(await readKeys(lab, "before")).toEqual(before);
  for (const m of lab.memberNames) await expectMemberHolds(lab, m, "before", before);
  // AND it takes writes again
  expect(await putKeys(lab, "after", 5)).toEqual(await readKeys(lab, "after"));
});
