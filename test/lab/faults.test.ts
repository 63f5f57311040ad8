import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../../lib/lab";
import { useFixtureLab } from "./make-stack";

const LAB = "labfault";
const fixture = useFixtureLab(LAB);
let lab: Lab;

beforeAll(() => {
  lab = fixture.lab;
});

/** Polls a serializable (member-local) read until it returns `value`, so replication lag does not fail the test. */
async function localValue(member: string, key: string, value: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await lab.etcdctl(["get", key, "--print-value-only", "--consistency=s"], { endpoints: [lab.clientUrl(member)] });
    if (r.stdout.trim() === value || Date.now() > deadline) return r.stdout.trim();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Retries a put until it succeeds: a write in flight when the leader goes away times out, as it
 * would for any client, and the majority elects a new leader within about two election timeouts.
 */
async function putEventually(key: string, value: string, endpoints?: string[], timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await lab.etcdctl(["put", key, value, "--command-timeout=2s"], { endpoints });
    if (r.code === 0 || Date.now() > deadline) return r.code ?? -1;
  }
}

/** Polls until one of `members` reports itself leader: an election takes about two election timeouts. */
async function leaderAmong(members: string[], timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leader = await lab.leader(members);
    if (leader) return leader;
    if (Date.now() > deadline) throw new Error(`no leader among ${members.join(", ")} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function currentLeader(): Promise<string> {
  await lab.waitHealthy(undefined, 30_000);
  const leader = await lab.leader();
  expect(leader).toBeDefined();
  return leader!;
}

test("with its leader killed the cluster keeps taking writes, and the member rejoins with them", async () => {
  // GIVEN a healthy 3-member lab
  const victim = await currentLeader();

  // WHEN its leader is killed (SIGKILL)
  const killedAt = Date.now();
  await lab.kill(victim);
  expect(lab.pid(victim)).toBeUndefined();

  // THEN the remaining two elect a leader among themselves
  const survivors = lab.memberNames.filter((m) => m !== victim);
  const successor = await leaderAmong(survivors);
  process.stderr.write(`[test] ${LAB}: ${successor} leads ${((Date.now() - killedAt) / 1000).toFixed(2)} s after killing the leader\n`);
  // AND the operator's writes (to every endpoint) succeed. A write can still land in the election
  // window (a dying machine's etcd may outlive its power-off by a moment), hence the retry on the first.
  expect(await putEventually("fault/k0", "v0")).toBe(0);
  for (let i = 1; i < 5; i++) expect(await lab.etcdctl(["put", `fault/k${i}`, `v${i}`])).toMatchObject({ code: 0 });
  expect(await lab.leader()).not.toBe(victim);

  // WHEN it is started again
  const t = Date.now();
  lab.start(victim);
  await lab.waitHealthy([victim], 30_000);
  process.stderr.write(`[test] ${LAB}: killed member healthy again ${((Date.now() - t) / 1000).toFixed(2)} s after start\n`);

  // THEN it serves the keys written while it was down from its own data
  expect(await localValue(victim, "fault/k4", "v4")).toBe("v4");
  const all = await lab.etcdctl(["get", "fault/", "--prefix", "--keys-only", "--consistency=s"], {
    endpoints: [lab.clientUrl(victim)],
  });
  expect(all.stdout.split("\n").filter(Boolean)).toEqual(["fault/k0", "fault/k1", "fault/k2", "fault/k3", "fault/k4"]);
});

test("a partitioned leader drops out of health while the majority keeps writing; heal brings it back", async () => {
  // GIVEN a healthy lab
  const cut = await currentLeader();
  const others = lab.memberNames.filter((m) => m !== cut);

  // WHEN the leader is partitioned off the bridge
  lab.partition(cut);

  // THEN the deployer cannot reach it, though its process still runs
  const probe = await lab.etcdctl(["endpoint", "health", "--dial-timeout=1s", "--command-timeout=1s"], {
    endpoints: [lab.clientUrl(cut)],
  });
  expect(probe.code).not.toBe(0);
  expect(lab.isRunning(cut)).toBe(true);
  // AND the other two elect a leader among themselves and accept writes
  expect(
    await putEventually(
      "partition/k",
      "during",
      others.map((m) => lab.clientUrl(m))
    )
  ).toBe(0);

  // WHEN the partition heals
  lab.heal();

  // THEN it is healthy again and catches up (etcd 3.4 has no pre-vote: its higher term forces an election first)
  await lab.waitHealthy([cut], 30_000);
  expect(await localValue(cut, "partition/k", "during")).toBe("during");
});

test("a stopped member's data can be wiped, but not while it runs", async () => {
  // GIVEN a running member, with its data directory (on its data volume)
  const dataDir = lab.member("etcd_node3").conf.ETCD_DATA_DIR;
  expect(await lab.machineExec("etcd_node3", ["test", "-d", `${dataDir}/member`])).toMatchObject({ code: 0 });

  // WHEN wiping it while it runs THEN the lab refuses
  expect(() => lab.wipe("etcd_node3")).toThrow(/etcd_node3 is running/);

  // WHEN it is stopped (SIGTERM) and wiped
  await lab.stop("etcd_node3");
  lab.wipe("etcd_node3");

  // THEN its data directory is gone while its parent (the volume's root) stays
  expect(existsSync(lab.stoppedPath("etcd_node3", dataDir))).toBe(false);
  expect(existsSync(lab.stoppedPath("etcd_node3", join(dataDir, "..")))).toBe(true);
  expect(lab.isRunning("etcd_node3")).toBe(false);
});
