// EBS volumes in the lab: a sparse file per volume, a loop device while it is attached. What the
// guest does with it (wait for the device, make a filesystem, fstab, mount) is its own boot
// script's work; the lab only plays the hypervisor: it makes the device appear in the machine under
// the name EC2's udev rules give it, and keeps it there across stops, starts and reboots.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runSync } from "./command";

/** A volume as the lab keeps it. */
export interface LabVolume {
  readonly id: string;
  readonly file: string;
  readonly sizeGiB: number;
}

/** A volume attached to an instance, and (for a container) the loop device that carries it while it is. */
export interface LabAttachment {
  readonly volumeId: string;
  readonly instanceId: string;
  readonly loopDevice?: string;
}

/** A new, blank volume: a sparse file, so 20 GiB costs what the guest writes. */
export function createVolumeFile(dir: string, id: string, sizeGiB: number): LabVolume {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${id}.img`);
  const fd = openSync(file, "wx", 0o600);
  try {
    ftruncateSync(fd, sizeGiB * 1024 ** 3);
  } finally {
    closeSync(fd);
  }
  return { id, file, sizeGiB };
}

export function deleteVolumeFile(volume: LabVolume): void {
  rmSync(volume.file, { force: true });
}

/** The volume on a loop device of the host: what the machine's device node will point at. */
export function attachLoop(volume: LabVolume): string {
  return runSync(["losetup", "--find", "--show", volume.file]).trim();
}

/** Releases the loop device, if it still carries this volume's file. */
export function detachLoop(attachment: LabAttachment, volume: LabVolume | undefined): void {
  const device = attachment.loopDevice;
  if (device && volume && loopBacking(device) === volume.file) runSync(["losetup", "--detach", device]);
}

function loopBacking(device: string): string | undefined {
  const name = device.replace(/^\/dev\//, "");
  const file = `/sys/block/${name}/loop/backing_file`;
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
}

/**
 * udev's name for an EBS volume on a Nitro instance (60-persistent-storage.rules): the NVMe model
 * and serial, which is the volume id without its dash.
 */
export function nvmeByIdName(volumeId: string): string {
  return `nvme-Amazon_Elastic_Block_Store_${volumeId.replace(/-/g, "")}`;
}

/**
 * A shell command that makes the volume's device appear in a container's /dev (a private tmpfs
 * that no udev fills): its node, with the host loop device's numbers, and the by-id link to it.
 */
export function deviceNodeScript(volumeId: string, loopDevice: string): string {
  const name = loopDevice.replace(/^\/dev\//, "");
  const [major, minor] = readFileSync(`/sys/block/${name}/dev`, "utf8").trim().split(":");
  const link = `/dev/disk/by-id/${nvmeByIdName(volumeId)}`;
  return [
    `[ -b /dev/${name} ] || mknod -m 0660 /dev/${name} b ${major} ${minor}`,
    "mkdir -p /dev/disk/by-id",
    `ln -sfn ../../${name} ${link}`,
  ].join(" && ");
}

/** The filesystem UUID on the volume, if it has one (read on the host, as udev would in the guest). */
export function filesystemUuid(device: string): string | undefined {
  try {
    return runSync(["blkid", "-p", "-o", "value", "-s", "UUID", device]).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Where the guest's /etc/fstab mounts the filesystem of this UUID, if it names it. */
export function fstabMountPoint(fstab: string, uuid: string): { mountPoint: string; type: string } | undefined {
  for (const line of fstab.split("\n")) {
    const [spec, mountPoint, type] = line.trim().split(/\s+/);
    if (spec === `UUID=${uuid}` && mountPoint?.startsWith("/")) return { mountPoint, type };
  }
  return undefined;
}
