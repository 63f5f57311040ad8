// Issue 14: each member's data on an EBS volume of its own, through the real Terraform in the lab.
// The guest's boot script finds the volume by its id, formats it only when blank and mounts it by
// UUID from fstab; a member whose VM is replaced comes back on the same volume, with the same
// member id and data, while a client keeps writing and the cluster keeps its quorum. On etcd 3.5
// (the lab's other release; most other lab suites run Debian's 3.4).
import { readFileSync } from "node:fs";
import { labEtcdInstall, startWriteLoad, type Lab } from "../../lib/lab";
import { expectMemberHolds, LabProject, memberList, putKeys, readKeys, record, SEED, seedLab } from "./real-lab";

const LAB = "etcdvolume";
const project = new LabProject(LAB, { clusterProps: { install: labEtcdInstall("v3.5.30") } });
let lab: Lab;

beforeAll(async () => {
  lab = await seedLab(project);
});
afterAll(() => project.remove());

function state(): any {
  return JSON.parse(readFileSync(project.stateFile, "utf8"));
}

/** The Terraform state's instances of one resource type, by their etcd:member tag. */
function byMember(type: string): Record<string, any> {
  const resources = state().resources.filter((r: any) => r.type === type);
  return Object.fromEntries(
    resources.flatMap((r: any) =>
      r.instances.map((i: any) => [i.attributes.tags["etcd:member"], { ...i.attributes, address: `${type}.${r.name}[0]` }])
    )
  );
}

async function sh(member: string, script: string): Promise<string> {
  const r = await lab.machineExec(member, ["sh", "-c", script]);
  if (r.code !== 0) throw new Error(`${member}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

test("GIVEN the seed deploy THEN each member's data directory is on its own volume, found by the volume id, formatted once and in fstab by UUID", async () => {
  expect((await lab.etcdctl(["endpoint", "status", "-w", "json"])).stdout).toMatch(/"version":"3\.5\.30"/);
  const volumes = byMember("aws_ebs_volume");
  for (const m of SEED) {
    const volume = volumes[m.name];
    expect(volume).toMatchObject({ type: "gp3", encrypted: true, size: 20, final_snapshot: true });
    const [source, fstype] = (await sh(m.name, "findmnt -n -o SOURCE,FSTYPE /var/lib/etcd")).split(/\s+/);
    expect(fstype).toBe("ext4");
    // The device udev (here: the lab, as the hypervisor) names by the volume id is what is mounted.
    expect(await sh(m.name, `readlink -f /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volume.id.replace("-", "")}`)).toBe(source);
    const uuid = await sh(m.name, `blkid -p -o value -s UUID ${source}`);
    expect(await sh(m.name, "grep ' /var/lib/etcd ' /etc/fstab")).toBe(`UUID=${uuid} /var/lib/etcd ext4 defaults,nofail 0 2`);
    expect(await sh(m.name, `findmnt -n -o TARGET -T /var/lib/etcd/${m.name}.etcd/member`)).toBe("/var/lib/etcd");
    const boot = await sh(m.name, "grep 'etcd-bootstrap: volume' /var/log/cloud-init-output.log");
    expect(boot.split("\n")).toEqual([
      `etcd-bootstrap: volume ${volume.id} (${source}) is blank: making an ext4 filesystem`,
      `etcd-bootstrap: volume ${volume.id} (${source}, ext4 ${uuid}) is at /var/lib/etcd`,
    ]);
  }
});

test("GIVEN keys and a client writing every 50 ms WHEN a follower's VM is replaced THEN it is back on its volume with its member id and data, and no write fails", async () => {
  const keys = await putKeys(lab, "before", 20);
  const leader = (await lab.leader())!;
  const victim = SEED.map((m) => m.name).find((m) => m !== leader)!;
  const before = await memberList(lab);
  const oldInstance = byMember("aws_instance")[victim];
  const volume = byMember("aws_ebs_volume")[victim];

  // WHEN its VM is replaced (what a roll does to each member), with a client writing throughout
  const load = startWriteLoad((k, v) => lab.etcdctl(["put", k, v, "--dial-timeout=1s", "--command-timeout=2s"]), { prefix: "load" });
  const mark = project.log.length;
  const t = Date.now();
  await lab.terraform(project.stackDir, ["apply", "-auto-approve", "-input=false", "-no-color", `-replace=${oldInstance.address}`], {
    log: (line) => project.log.push(line),
  });
  await lab.waitHealthy([victim], 120_000);
  record(LAB, `${victim}'s VM replaced, to healthy`, Date.now() - t);
  await putKeys(lab, "after", 5);
  const report = await load.stop();
  record(
    LAB,
    `writes during the replacement: ${report.attempted} started, ${report.failures.length} failed, ${report.skipped} skipped; longest without an ack`,
    report.longestOutageMs
  );

  // THEN Terraform replaced the instance and its attachment only: no membership step ran, the volume stayed
  const applied = project.since(mark).join("\n");
  expect(applied).toMatch(/Apply complete! Resources: 2 added, 0 changed, 2 destroyed\./);
  expect(applied).not.toMatch(/terraform_data\.[^:]*: (Destroying|Creating)/);
  expect(applied).not.toMatch(/aws_ebs_volume\.[^:]*: (Destroying|Creating)/);
  expect(byMember("aws_instance")[victim].id).not.toBe(oldInstance.id);
  expect(byMember("aws_ebs_volume")[victim].id).toBe(volume.id);

  // AND the new VM found the volume's filesystem and did not make another
  const boot = await sh(victim, "grep 'etcd-bootstrap: volume' /var/log/cloud-init-output.log");
  expect(boot).toMatch(new RegExp(`^etcd-bootstrap: volume ${volume.id} \\(\\S+, ext4 [0-9a-f-]+\\) is at /var/lib/etcd$`));

  // AND etcd's member list is as it was, the member a voter with the same id, holding every key
  expect(await memberList(lab)).toEqual(before);
  await expectMemberHolds(lab, victim, "before", keys);

  // AND every write the client had acknowledged is there, and none failed: the cluster kept its quorum
  expect(await readKeys(lab, "load")).toEqual(Object.fromEntries(report.acknowledged));
  expect(report.failures).toEqual([]);
  expect(report.skipped).toBe(0);
});
