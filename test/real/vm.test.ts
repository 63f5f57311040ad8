// Issue 10: the seed cluster with every member a full VM (qemu, its own kernel), deployed by the
// real Terraform, and a reboot. Under TCG this is minutes: it is the one VM scenario in the suite.
import { readFileSync } from "node:fs";
import { labDown, type Lab } from "../../lib/lab";
import { launchedUserData } from "../support/lab-project";
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

test(
  "three voting members over mutual TLS, each having consumed its exact user data",
  async () => {
    const members = await memberList(lab);
    expect(members.map((m) => [m.name, m.isLearner ?? false]).sort()).toEqual(SEED.map((m) => [m.name, false]));
    for (const m of SEED) {
      const status = await lab.machineExec(m.name, ["cloud-init", "status", "--wait", "--long"], { timeoutMs: 300_000 });
      expect(status.stdout).toMatch(/^status: done$/m);
      const consumed = await lab.machineExec(m.name, ["cat", "/var/lib/cloud/instance/user-data.txt"], { timeoutMs: 60_000 });
      expect(consumed.stdout).toBe(launchedUserData(project, m.name));
      // Its data volume, hot-plugged as an NVMe drive after the VM started, found by the volume id udev names it by
      const volume = /VOLUME='(vol-[0-9a-f]+)'/.exec(consumed.stdout)![1];
      const found = await lab.machineExec(m.name, [
        "sh",
        "-c",
        `readlink -f /dev/disk/by-id/nvme-*_${volume.replace("-", "")}; findmnt -n -o SOURCE,FSTYPE /var/lib/etcd`,
      ]);
      const [device, mounted] = found.stdout.trim().split("\n");
      expect(device).toMatch(/^\/dev\/nvme\d+n1$/);
      expect(mounted).toBe(`${device} ext4`);
    }
  },
  VM_MINUTES
);

test(
  "a reboot is the guest's own: a new boot, no second run of the boot script, and the member rejoins",
  async () => {
    const keys = await putKeys(lab, "vmreboot", 5);
    const bootId = (await lab.machineExec("etcd_node2", ["cat", "/proc/sys/kernel/random/boot_id"], { timeoutMs: 60_000 })).stdout;
    const t = Date.now();
    await lab.reboot("etcd_node2");
    await lab.waitHealthy(["etcd_node2"], VM_MINUTES / 2);
    record(LAB, "reboot of a VM member to healthy", Date.now() - t);
    expect((await lab.machineExec("etcd_node2", ["cat", "/proc/sys/kernel/random/boot_id"], { timeoutMs: 60_000 })).stdout).not.toBe(
      bootId
    );
    const output = await lab.machineExec("etcd_node2", ["cat", "/var/log/cloud-init-output.log"], { timeoutMs: 60_000 });
    expect(output.stdout.match(/etcd-bootstrap: downloading/g)).toHaveLength(1);
    // AND the guest's own systemd mounted the data volume from fstab, by its UUID, before etcd started
    const mount = await lab.machineExec("etcd_node2", [
      "sh",
      "-c",
      "systemctl is-active var-lib-etcd.mount; findmnt -n -o SOURCE,FSTYPE /var/lib/etcd; grep ' /var/lib/etcd ' /etc/fstab",
    ]);
    expect(mount.stdout).toMatch(/^active\n\/dev\/nvme\d+n1 ext4\nUUID=[0-9a-f-]{36} \/var\/lib\/etcd ext4 defaults,nofail 0 2\n$/);
    await expectMemberHolds(lab, "etcd_node2", "vmreboot", keys, 60_000);
  },
  VM_MINUTES
);
