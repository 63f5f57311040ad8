import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runSync, which } from "../command";
import { buildOnce, debootstrap, IMAGE_FILES, ImageFile, imageId, PACKAGES, writeImageFiles } from "./image";

/**
 * What a full VM boots: the container image's recipe plus a kernel, as a bootable disk. The kernel
 * and initrd sit beside the disk (qemu boots them directly: no boot loader, no partition table),
 * and the disk is the whole ext4 root filesystem.
 */
export interface VmImage {
  readonly kernel: string;
  readonly initrd: string;
  /** The read-only base disk (qcow2) each VM's overlay is backed by. */
  readonly baseDisk: string;
  /** Content hash of the recipe: a new recipe builds a new image beside the old one. */
  readonly id: string;
}

export const VM_IMAGE_CACHE = "/var/cache/etcd-lab/vm-images";

/** The root filesystem's label: the kernel command line names the root by it, and so does fstab. */
export const VM_ROOT_LABEL = "etcd-lab-root";

/** The disk's size as the guest sees it; the qcow2 files hold only what is written. */
const DISK_SIZE = "4G";

const VM_PACKAGES = [
  "linux-image-amd64",
  // debootstrap takes the first of a dependency's alternatives only when it is named.
  "initramfs-tools",
  // Loads the drivers of what the VM has and names its disks: cloud-init finds the NoCloud seed by
  // its label, and (data volumes) the boot script waits for a volume by its serial.
  "udev",
  "kmod",
  // The host's way in (vm.ts: vmExec, orderly shutdown) without a network or an SSH key.
  "qemu-guest-agent",
];

const VM_IMAGE_FILES: Record<string, ImageFile> = {
  "/etc/fstab": { content: `LABEL=${VM_ROOT_LABEL} / ext4 errors=remount-ro 0 1\n`, mode: 0o644 },
  // cloud-init's locale module generates the locale on first boot unless the system already has
  // it: under TCG that is 75 s per instance, so the image comes with it generated (locale-gen below).
  "/etc/default/locale": { content: "LANG=en_US.UTF-8\n", mode: 0o644 },
  // The initrd holds only what mounts the root (virtio disk, ext4): Debian's default holds every
  // driver, 36 MB that TCG unpacks and udev probes (floppy, IDE, ...) on every boot.
  "/etc/initramfs-tools/conf.d/etcd-lab.conf": { content: "MODULES=list\n", mode: 0o644 },
  "/etc/initramfs-tools/modules": { content: ["virtio_pci", "virtio_blk", "ext4", "crc32c_generic", ""].join("\n"), mode: 0o644 },
};

/** Units that cost minutes under TCG and do nothing here: e2scrub_reap looks for LVM snapshots. */
const MASKED_UNITS = ["e2scrub_reap.service"];

/**
 * Units the VM needs that Debian does not enable: networkd, with the generator that turns the
 * kernel command line's `ip=` into its config (vm.ts: vmKernelCommandLine), and the wait for it,
 * so that network-online.target (cloud-init's final stage, the boot script) means a configured link.
 */
const VM_UNITS = ["systemd-networkd.service", "systemd-network-generator.service", "systemd-networkd-wait-online.service"];

/** What changes the image: the container recipe (by its id), this file's additions, the build steps. */
export function vmImageId(): string {
  const recipe = JSON.stringify({
    base: imageId(),
    VM_PACKAGES,
    VM_IMAGE_FILES,
    VM_UNITS,
    MASKED_UNITS,
    DISK_SIZE,
    VM_ROOT_LABEL,
    steps: 2,
  });
  return createHash("sha256").update(recipe).digest("hex").slice(0, 16);
}

function cached(dir: string, id: string): VmImage {
  return { kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), baseDisk: join(dir, "disk.qcow2"), id };
}

/**
 * The cached VM image, built first if this recipe has none yet: debootstrap as for the container
 * image plus the kernel, then the tree becomes an ext4 filesystem (mke2fs -d: no loop mount) and a
 * qcow2 base disk. About five minutes, once; 800 MB (the kernel's modules are most of it).
 */
export async function ensureVmImage(options: { log?: (line: string) => void; cacheDir?: string } = {}): Promise<VmImage> {
  const log = options.log ?? ((line: string) => void process.stderr.write(line + "\n"));
  const id = vmImageId();
  const dir = join(options.cacheDir ?? VM_IMAGE_CACHE, id);
  if (existsSync(join(dir, "complete"))) return cached(dir, id);

  for (const [tool, pkg] of [
    ["debootstrap", "debootstrap"],
    ["mke2fs", "e2fsprogs"],
    ["qemu-img", "qemu-utils"],
    ["systemctl", "systemd"],
  ]) {
    if (!which(tool)) throw new Error(`the lab's VM image needs ${tool}: apt-get install ${pkg}`);
  }
  const t = Date.now();
  log(`[lab vm image] building ${id}: debootstrap with a kernel, then an ext4 disk (once; about 4 min)`);
  await buildOnce(dir, async (building) => {
    const root = join(building, "rootfs");
    await debootstrap(root, [...PACKAGES, ...VM_PACKAGES], log);
    writeImageFiles(root, IMAGE_FILES);
    writeImageFiles(root, VM_IMAGE_FILES);
    // Offline: only the symlinks the units' [Install] sections name.
    runSync(["systemctl", `--root=${root}`, "enable", ...VM_UNITS]);
    runSync(["systemctl", `--root=${root}`, "mask", ...MASKED_UNITS]);
    // Both run the image's own tools on the host, as debootstrap's package scripts did.
    runSync(["chroot", root, "locale-gen"]);
    runSync(["chroot", root, "update-initramfs", "-u", "-k", "all"]);
    const boot = readdirSync(join(root, "boot"));
    const kernel = boot.find((f) => f.startsWith("vmlinuz-"));
    const initrd = boot.find((f) => f.startsWith("initrd.img-"));
    if (!kernel || !initrd) throw new Error(`the VM image has no kernel or initrd in /boot (found: ${boot.join(", ") || "nothing"})`);
    copyFileSync(join(root, "boot", kernel), join(building, "vmlinuz"));
    copyFileSync(join(root, "boot", initrd), join(building, "initrd.img"));
    // The inode tables and journal are written now, not by the guest's lazy init under emulation.
    const raw = join(building, "disk.raw");
    runSync([
      "mke2fs",
      "-q",
      "-t",
      "ext4",
      "-L",
      VM_ROOT_LABEL,
      "-E",
      "lazy_itable_init=0,lazy_journal_init=0",
      "-d",
      root,
      raw,
      DISK_SIZE,
    ]);
    runSync(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, join(building, "disk.qcow2")]);
    rmSync(raw);
    rmSync(root, { recursive: true, force: true });
  });
  log(`[lab vm image] ${id} built in ${((Date.now() - t) / 1000).toFixed(0)} s: ${dir}`);
  return cached(dir, id);
}
