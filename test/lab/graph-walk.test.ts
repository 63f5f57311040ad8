import { walkGraph } from "../../lib/lab/graph-walk";

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("each node starts after its dependencies finish, and independent nodes overlap", async () => {
  // GIVEN slow independent nodes a and b, and c depending on both
  const events: string[] = [];
  const visit = async (n: string) => {
    events.push(`start ${n}`);
    await pause(20);
    events.push(`end ${n}`);
  };

  // WHEN walked
  await walkGraph(["c", "a", "b"], (n) => (n === "c" ? ["a", "b"] : []), visit);

  // THEN a and b ran together, c after both
  expect(events.slice(0, 2).sort()).toEqual(["start a", "start b"]);
  expect(events.slice(-2)).toEqual(["start c", "end c"]);
});

test("after a failure no further node starts; running ones finish; the walk rejects with the failure", async () => {
  // GIVEN a failing quickly, b slow and independent, c depending on a
  const ran: string[] = [];
  const visit = async (n: string) => {
    ran.push(n);
    if (n === "a") throw new Error("a failed");
    await pause(30);
    ran.push(`${n} done`);
  };

  // WHEN walked THEN it rejects with a's error, b finished and c never started
  await expect(walkGraph(["a", "b", "c"], (n) => (n === "c" ? ["a"] : []), visit)).rejects.toThrow("a failed");
  expect(ran).toEqual(["a", "b", "b done"]);
});

test("at most `parallelism` nodes run at once", async () => {
  let running = 0;
  let most = 0;
  const visit = async () => {
    most = Math.max(most, ++running);
    await pause(10);
    running--;
  };
  await walkGraph(["a", "b", "c", "d", "e"], () => [], visit, 2);
  expect(most).toBe(2);
});
