// The boot script's mount_data_volume against real devices: a loop device stands in for the EBS
// volume, under the by-id name udev gives it on a Nitro instance, in a mount namespace of the
// test's own (a /dev, an /etc/fstab and a mount point nobody else sees), with the real blkid,
// mkfs.ext4 and mount.
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveInstallPlan, type InstallPlan } from "../../lib/etcd/releases";
import { renderBootScript } from "../../lib/host/boot-script";
import { renderDataVolumeSettings } from "../../lib/host/data-volume-script";
import { temporaryDirectory } from "../support/temp";
import { requireTool } from "../support/tools";

const VOLUME = "vol-0123456789abcdef0";
const dir = temporaryDirectory("data-volume-");
const image = join(dir, "volume.img");
const fstab = join(dir, "fstab");
const mountPoint = join(dir, "etcd");
let loop = "";

beforeAll(() => {
  for (const [tool, pkg] of [
    ["losetup", "mount"],
    ["unshare", "util-linux"],
    ["mkfs.ext4", "e2fsprogs"],
    ["sfdisk", "fdisk"],
  ])
    requireTool(tool, pkg);
  const fd = openSync(image, "w");
  ftruncateSync(fd, 64 * 1024 ** 2);
  closeSync(fd);
  loop = spawnSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).stdout.trim();
  expect(loop).toMatch(/^\/dev\/loop\d+$/);
  writeFileSync(fstab, "# the image's own\n");
  writeFileSync(join(dir, "settings"), renderDataVolumeSettings(VOLUME, mountPoint));
  const plan = resolveInstallPlan(undefined, "amd64").plan as InstallPlan;
  const script = renderBootScript({
    install: plan,
    dataDir: mountPoint,
    user: "etcd",
    confFile: "/etc/etcd/etcd.conf",
    healthTimeoutSeconds: 600,
    dataVolumeSettings: join(dir, "settings"),
  });
  writeFileSync(join(dir, "functions.sh"), script.trimEnd().split("\n").slice(0, -1).join("\n") + "\n");
});

afterAll(() => {
  if (loop) spawnSync("losetup", ["--detach", loop]);
});

/**
 * Runs `steps` after sourcing the boot script's functions, in a private mount namespace whose /dev
 * holds only null and the volume (by its node and its by-id link), and whose /etc/fstab is the test's.
 */
function inNamespace(steps: string): { code: number | null; out: string } {
  const [major, minor] = readFileSync(`/sys/block/${loop.slice(5)}/dev`, "utf8")
    .trim()
    .split(":");
  const setup = [
    "mount -t tmpfs tmpfs /dev",
    "mknod /dev/null c 1 3",
    `mknod ${loop} b ${major} ${minor}`,
    "mkdir -p /dev/disk/by-id",
    `ln -s ../../${loop.slice(5)} /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME.replace("-", "")}`,
    `mount --bind ${fstab} /etc/fstab`,
    `. ${join(dir, "functions.sh")}`,
  ].join(" && ");
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", `${setup} && ${steps}`], {
    encoding: "utf8",
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const uuidOf = () => spawnSync("blkid", ["-p", "-o", "value", "-s", "UUID", loop], { encoding: "utf8" }).stdout.trim();

describe("mount_data_volume", () => {
  test("GIVEN a blank volume WHEN it runs THEN it makes an ext4 filesystem, adds it to fstab by UUID and mounts it", () => {
    const r = inNamespace(
      `mount_data_volume ${join(dir, "settings")} && findmnt -n -o SOURCE,FSTYPE ${mountPoint} && echo kept > ${mountPoint}/marker`
    );
    expect(r.code).toBe(0);
    const uuid = uuidOf();
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.out.split("\n").filter(Boolean)).toEqual([
      `etcd-bootstrap: volume ${VOLUME} (${loop}) is blank: making an ext4 filesystem`,
      `etcd-bootstrap: volume ${VOLUME} (${loop}, ext4 ${uuid}) is at ${mountPoint}`,
      `${loop} ext4`,
    ]);
    expect(readFileSync(fstab, "utf8")).toBe(`# the image's own\nUUID=${uuid} ${mountPoint} ext4 defaults,nofail 0 2\n`);
  });

  test("GIVEN the volume of a replaced VM WHEN it runs again THEN it keeps the filesystem and its data, and fstab gains no second line", () => {
    const uuid = uuidOf();
    const r = inNamespace(`mount_data_volume ${join(dir, "settings")} && cat ${mountPoint}/marker`);
    expect(r.code).toBe(0);
    expect(r.out).not.toContain("blank");
    expect(r.out).toContain(`etcd-bootstrap: volume ${VOLUME} (${loop}, ext4 ${uuid}) is at ${mountPoint}\nkept\n`);
    expect(uuidOf()).toBe(uuid);
    expect(readFileSync(fstab, "utf8").match(/^UUID=/gm)).toHaveLength(1);
  });

  test("GIVEN a volume with a partition table and no filesystem WHEN it runs THEN it refuses and writes nothing to it", () => {
    spawnSync("wipefs", ["--all", "--quiet", loop]);
    expect(spawnSync("sfdisk", ["--quiet", loop], { input: "label: dos\n,,L\n", encoding: "utf8" }).status).toBe(0);
    const before = readFileSync(image);
    const r = inNamespace(`mount_data_volume ${join(dir, "settings")}`);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`etcd-bootstrap: ${loop} holds no filesystem (a partition table?): not touching it`);
    expect(readFileSync(image).equals(before)).toBe(true);
  });
});
