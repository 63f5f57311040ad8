import { shQuote } from "../shell-quote";

/** How long the boot waits for the volume to be attached: Terraform attaches it after the VM is running. */
export const VOLUME_TIMEOUT_SECONDS = 600;

/**
 * The settings mount_data_volume reads: the volume id is Terraform's to fill in, so it sits in a
 * file the user data keeps uncompressed, and the boot script that holds the function can be compressed.
 */
export function renderDataVolumeSettings(volumeId: string, mountPoint: string): string {
  return `VOLUME=${shQuote(volumeId)}\nMOUNT_POINT=${shQuote(mountPoint)}\n`;
}

/**
 * The boot script's mount_data_volume SETTINGS_FILE, run before anything is written to the data
 * directory: it waits for the member's EBS volume to appear, makes a filesystem only on a blank
 * volume, adds it to fstab by UUID and mounts it. A volume that holds a filesystem already (the
 * member's VM was replaced) is used as it is. A subshell: the settings it sources end with it.
 * It uses the boot script's log and fail, and never writes `${` or `%{` (user data).
 *
 * Why it is written this way (here, not in the script: its bytes count against EC2's 16 KB):
 * - A Nitro instance's NVMe serial is the volume id without its dash, and udev names the device
 *   by it (nvme-<model>_<serial>): the kernel's nvme1n1 follows discovery order, which a replaced
 *   VM need not repeat. A Xen instance shows the attachment's own name, /dev/xvdf.
 * - blkid -p probes the device itself (no cache) and exits 2 only when it finds no filesystem,
 *   partition table or RAID signature: that alone is a new volume. mkfs never runs over data.
 * - fstab by UUID, whatever the device is called at the next boot; nofail: a volume missing then
 *   does not stop the boot (SSH and SSM still work), and etcd's unit refuses to start without it.
 */
export const MOUNT_DATA_VOLUME_FUNCTION = `mount_data_volume() (
  . "$1"
  device() {
    for dev in /dev/disk/by-id/nvme-*_$(echo "$VOLUME" | tr -d -) /dev/xvdf; do
      if [ -b "$dev" ]; then readlink -f "$dev"; return 0; fi
    done
    return 1
  }
  deadline=$(($(date +%s) + ${VOLUME_TIMEOUT_SECONDS}))
  until dev=$(device); do
    left=$((deadline - $(date +%s)))
    [ "$left" -gt 0 ] || fail "volume $VOLUME is not attached after ${VOLUME_TIMEOUT_SECONDS} seconds"
    log "waiting for volume $VOLUME to be attached ($left seconds left)"
    sleep 5
  done
  probe=0
  blkid -p "$dev" >/dev/null 2>&1 || probe=$?
  if [ "$probe" -eq 2 ]; then
    log "volume $VOLUME ($dev) is blank: making an ext4 filesystem"
    mkfs.ext4 -q -L etcd-data "$dev"
  elif [ "$probe" -ne 0 ]; then
    fail "cannot probe $dev (blkid exit $probe): not touching it"
  fi
  uuid=$(blkid -p -o value -s UUID "$dev") || true
  type=$(blkid -p -o value -s TYPE "$dev") || true
  [ -n "$uuid" ] && [ -n "$type" ] || fail "$dev holds no filesystem (a partition table?): not touching it"
  grep -q "^UUID=$uuid " /etc/fstab 2>/dev/null || echo "UUID=$uuid $MOUNT_POINT $type defaults,nofail 0 2" >>/etc/fstab
  mkdir -p "$MOUNT_POINT"
  mountpoint -q "$MOUNT_POINT" || mount "$MOUNT_POINT"
  log "volume $VOLUME ($dev, $type $uuid) is at $MOUNT_POINT"
)
`;
