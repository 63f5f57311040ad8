import { Construct } from "constructs";
import { EbsVolume } from "@cdktf/provider-aws/lib/ebs-volume";
import { VolumeAttachment } from "@cdktf/provider-aws/lib/volume-attachment";
import type { ResolvedDataVolume } from "../config/resolved-cluster";
import { counted } from "./counted";

/**
 * Where the attachment asks EC2 to put the volume. On Nitro instances the kernel names NVMe
 * devices in the order it finds them, so the boot script finds the volume by its id instead (the
 * NVMe serial); Xen instances show this name as /dev/xvdf.
 */
export const DATA_VOLUME_DEVICE = "/dev/sdf";

export interface MemberDataVolumeProps {
  readonly volume: ResolvedDataVolume;
  /** The member's subnet's zone: an EBS volume attaches only to an instance in its own zone. */
  readonly availabilityZone: string;
  readonly tags: Record<string, string>;
  /** 0 with the member's VM: the volume goes (see onDestroy) when the member does. */
  readonly count: 0 | 1;
}

/** An `aws_ebs_volume` with `count`. */
const CountedVolume = counted(EbsVolume);

/**
 * One member's data volume and its attachment. The volume is not replaced with the VM: a new VM
 * gets a new attachment to the same volume, and etcd starts on the data (and the member id) it
 * left. The attachment stops the old instance before it detaches, so etcd shuts down cleanly
 * (the leader hands its leadership over) instead of losing its disk while it writes.
 */
export class MemberDataVolume extends Construct {
  readonly volume: EbsVolume;
  private readonly count: 0 | 1;

  constructor(scope: Construct, id: string, props: MemberDataVolumeProps) {
    super(scope, id);
    const { volume } = props;
    this.count = props.count;
    this.volume = new CountedVolume(this, "volume", {
      availabilityZone: props.availabilityZone,
      type: "gp3",
      size: volume.sizeGiB,
      iops: volume.iops,
      throughput: volume.throughputMiBps,
      encrypted: true,
      kmsKeyId: volume.kmsKeyId,
      finalSnapshot: volume.onDestroy === "snapshot",
      tags: props.tags,
      count: props.count,
      lifecycle: volume.onDestroy === "retain" ? { preventDestroy: true } : undefined,
    });
  }

  /** The volume's id (`aws_ebs_volume.x[0].id`), which the member's boot script waits for. */
  get volumeId(): string {
    return this.volume.id;
  }

  /** Attaches the volume to the member's instance (a reference to `aws_instance.x[0].id`), made after the volume. */
  attachTo(instanceId: string): VolumeAttachment {
    return new VolumeAttachment(this, "attachment", {
      deviceName: DATA_VOLUME_DEVICE,
      volumeId: this.volume.id,
      instanceId,
      stopInstanceBeforeDetaching: true,
      count: this.count,
    });
  }
}
