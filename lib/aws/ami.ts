import { Construct } from "constructs";
import { DataAwsAmi } from "@cdktf/provider-aws/lib/data-aws-ami";
import type { EtcdArch } from "../etcd/releases";

const AMI_ARCH: Record<EtcdArch, string> = { amd64: "x86_64", arm64: "arm64" };

/**
 * The latest Amazon Linux 2023 AMI: cloud-init, systemd, curl, tar and the AWS CLI out of the box.
 * Looked up at plan time, so no region-specific id is hard-coded; instances ignore later AMI
 * changes so a new release never replaces every member at once.
 */
export function amazonLinux2023(scope: Construct, id: string, arch: EtcdArch): string {
  return new DataAwsAmi(scope, id, {
    mostRecent: true,
    owners: ["amazon"],
    filter: [
      { name: "name", values: [`al2023-ami-2023.*-${AMI_ARCH[arch]}`] },
      { name: "architecture", values: [AMI_ARCH[arch]] },
      { name: "state", values: ["available"] },
    ],
  }).id;
}
