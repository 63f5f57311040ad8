// Issue 14: a change that needs new VMs (here a tuning change) rolls through the cluster one
// member at a time: `etcd-cluster roll`, run where the deployer stands, drives the real Terraform
// in the lab, while a client writes a key every 50 ms. A plain deploy of the change replaces
// nothing; the roll replaces followers first and the leader last, each on its own data volume.
import { readFileSync } from "node:fs";
import type { Lab } from "../../lib/lab";
import { startWriteLoad, type WriteLoadReport } from "../../lib/lab";
import { labCli, LabProject, memberList, readKeys, record, SEED, seedLab, waitLeader } from "./real-lab";

const LAB = "etcdroll";
const project = new LabProject(LAB);
let lab: Lab;

beforeAll(async () => {
  lab = await seedLab(project);
});
afterAll(() => project.remove());

function instanceIds(): Record<string, string> {
  const state = JSON.parse(readFileSync(project.stateFile, "utf8"));
  return Object.fromEntries(
    state.resources
      .filter((r: any) => r.type === "aws_instance")
      .flatMap((r: any) => r.instances.map((i: any) => [i.attributes.tags["etcd:member"], i.attributes.id]))
  );
}

const put = (k: string, v: string) => lab.etcdctl(["put", k, v, "--dial-timeout=1s", "--command-timeout=2s"]);

function describeLoad(report: WriteLoadReport): string {
  return `${report.attempted} writes, ${report.failures.length} failed, ${report.skipped} skipped; longest without an ack`;
}

test("GIVEN a tuning change WHEN it is deployed plainly THEN Terraform replaces and restarts no member", async () => {
  project.synth(SEED, { tuning: { snapshotCount: 20_000 } });
  const ids = instanceIds();
  expect(await project.plan()).toBe(0);
  expect(instanceIds()).toEqual(ids);
});

test("GIVEN the change and a client writing every 50 ms WHEN it is rolled THEN each member is replaced in turn, followers first, and no acknowledged write is lost", async () => {
  const before = await memberList(lab);
  const ids = instanceIds();
  const leader = (await lab.leader())!;

  // WHEN the roll runs, under load
  const load = startWriteLoad(put, { prefix: "rollload" });
  const t = Date.now();
  const { code, lines } = await labCli(["roll", project.stackDir, "--name", LAB]);
  const report = await load.stop();
  record(LAB, "roll of 3 members (tuning change)", Date.now() - t);
  record(LAB, `writes during the roll: ${describeLoad(report)}`, report.longestOutageMs);
  const said = lines.join("\n");
  expect({ code, said }).toMatchObject({ code: 0 });

  // THEN it replaced the followers first and the leader last, after handing its leadership over
  const order = [...said.matchAll(/roll \+[\d.]+s \[(\d)\/3\] (\S+): replacing its VM \(user data: ([^)]*)\)/g)].map((m) => [
    m[1],
    m[2],
    m[3],
  ]);
  expect(order.map(([, member]) => member)).toHaveLength(3);
  expect(order[2][1]).toBe(leader);
  for (const [, , files] of order) expect(files).toBe("/etc/etcd/etcd.conf");
  expect(said).toMatch(new RegExp(`\\[3/3\\] ${leader}: is the leader: handing leadership to etcd_node\\d`));
  for (const [i] of order) expect(said).toMatch(new RegExp(`\\[${i}/3\\] \\S+: replaced and caught up in [\\d.]+ s`));
  expect(said).toMatch(/roll \+[\d.]+s rolled 3 member\(s\) in [\d.]+ s/);

  // AND every member runs a new VM with the new setting, as the member it was
  for (const [member, id] of Object.entries(ids)) expect(instanceIds()[member]).not.toBe(id);
  for (const m of SEED) {
    const conf = await lab.machineExec(m.name, ["cat", "/etc/etcd/etcd.conf"]);
    expect(conf.stdout).toContain('ETCD_SNAPSHOT_COUNT="20000"');
  }
  expect(await memberList(lab)).toEqual(before);

  // AND every write the client had acknowledged is there; the cluster answered throughout
  expect(await readKeys(lab, "rollload")).toEqual(Object.fromEntries(report.acknowledged));
  expect(report.skipped).toBe(0);
  // etcd's election timeout (1 s by default) x 3: the bound on any outage
  expect(report.longestOutageMs).toBeLessThan(3_000);
});

test("GIVEN the roll done WHEN it runs again THEN there is nothing to roll", async () => {
  const ids = instanceIds();
  const { code, lines } = await labCli(["roll", project.stackDir, "--name", LAB]);
  expect(code).toBe(0);
  expect(lines.join("\n")).toMatch(/roll \+[\d.]+s nothing to roll/);
  expect(instanceIds()).toEqual(ids);
});

test("GIVEN a member down WHEN a roll starts THEN it refuses before Terraform changes anything", async () => {
  project.synth(SEED, { tuning: { snapshotCount: 30_000 } });
  const ids = instanceIds();
  await lab.stop("etcd_node3");
  try {
    const { code, lines } = await labCli(["roll", project.stackDir, "--name", LAB]);
    expect(code).toBe(1);
    expect(lines.join("\n")).toMatch(
      /etcd-cluster roll: the roll refuses to start: etcd_node3 is not healthy: .*\(https:\/\/172\.16\.0\.103:2379\)/
    );
    expect(lines.join("\n")).not.toMatch(/terraform apply/);
    expect(instanceIds()).toEqual(ids);
  } finally {
    lab.start("etcd_node3");
    await lab.waitHealthy(["etcd_node3"], 60_000);
    await waitLeader(lab, lab.memberNames);
  }
});
