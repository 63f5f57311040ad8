// Issue 10: the seed cluster with every member a full VM (qemu, its own kernel), deployed by the
// real Terraform, and a reboot. Under TCG this is minutes: it is the one VM scenario in the suite.
import { readFileSync } from "node:fs";
import { labDown, type Lab } from "../../lib/lab";
import { unescapeTemplate } from "../../lib/terraform-string";
import { expectMemberHolds, LabProject, memberList, putKeys, record, requireLabHost, SEED } from "./real-lab";

const LAB = "realvm";
const project = new LabProject(LAB);
let lab: Lab;
const VM_MINUTES = 20 * 60_000;

beforeAll(async () => {
  requireLabHost();
  await labDown(LAB, { log: () => undefined });
  project.synth(SEED);
  const t = Date.now();
  lab = await project.deploy({ machine: "vm" });
  record(LAB, "lab deploy --vm (seed, 3 VMs) to all healthy", Date.now() - t);
}, VM_MINUTES);

afterAll(() => project.remove(), 120_000);

test("the deploy says which accelerator runs the VMs, and each member is a VM with its own kernel", async () => {
  expect(project.log.join("\n")).toMatch(/\[lab realvm\] VMs run under (KVM|TCG): \S/);
  expect(lab.machineKind).toBe("vm");
  for (const m of SEED) {
    // Its own kernel: not the host's, and the guest's PID 1 is systemd.
    const r = await lab.machineExec(m.name, ["sh", "-c", "uname -r; cat /proc/1/comm; systemd-detect-virt"], { timeoutMs: 60_000 });
    const [kernel, init, virt] = r.stdout.trim().split("\n");
    expect(init).toBe("systemd");
    expect(virt).toMatch(/^(kvm|qemu)$/);
    expect(kernel).not.toBe(readFileSync("/proc/sys/kernel/osrelease", "utf8").trim());
  }
});

test("three voting members over mutual TLS, each having consumed its exact user data", async () => {
  const members = await memberList(lab);
  expect(members.map((m) => [m.name, m.isLearner ?? false]).sort()).toEqual(SEED.map((m) => [m.name, false]));
  const config = JSON.parse(readFileSync(`${project.stackDir}/cdk.tf.json`, "utf8"));
  for (const m of SEED) {
    const status = await lab.machineExec(m.name, ["cloud-init", "status", "--wait", "--long"], { timeoutMs: 300_000 });
    expect(status.stdout).toMatch(/^status: done$/m);
    const consumed = await lab.machineExec(m.name, ["cat", "/var/lib/cloud/instance/user-data.txt"], { timeoutMs: 60_000 });
    const instance = Object.values(config.resource.aws_instance as Record<string, any>).find((i) => i.tags["etcd:member"] === m.name);
    expect(consumed.stdout).toBe(unescapeTemplate(instance.user_data));
  }
}, VM_MINUTES);

test("a reboot is the guest's own: a new boot, no second run of the boot script, and the member rejoins", async () => {
  const keys = await putKeys(lab, "vmreboot", 5);
  const bootId = (await lab.machineExec("etcd_node2", ["cat", "/proc/sys/kernel/random/boot_id"], { timeoutMs: 60_000 })).stdout;
  const t = Date.now();
  await lab.reboot("etcd_node2");
  await lab.waitHealthy(["etcd_node2"], VM_MINUTES / 2);
  record(LAB, "reboot of a VM member to healthy", Date.now() - t);
  expect((await lab.machineExec("etcd_node2", ["cat", "/proc/sys/kernel/random/boot_id"], { timeoutMs: 60_000 })).stdout).not.toBe(bootId);
  const output = await lab.machineExec("etcd_node2", ["cat", "/var/log/cloud-init-output.log"], { timeoutMs: 60_000 });
  expect(output.stdout.match(/etcd-bootstrap: downloading/g)).toHaveLength(1);
  await expectMemberHolds(lab, "etcd_node2", "vmreboot", keys, 60_000);
}, VM_MINUTES);
