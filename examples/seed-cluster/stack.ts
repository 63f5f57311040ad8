import type { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster, type EtcdMemberProps } from "../../lib";
import { SEED_MEMBERS } from "./members";

export interface SeedClusterStackProps {
  readonly members?: EtcdMemberProps[];
  /** @default ".etcd-pki/<stack>/etcd" under the working directory */
  readonly pkiDirectory?: string;
}

/** The recipe's cluster: etcd_node1..3 on 172.16.0.101..103 in a VPC of its own. */
export class SeedClusterStack extends TerraformStack {
  readonly cluster: EtcdCluster;

  constructor(scope: Construct, id: string, props: SeedClusterStackProps = {}) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "us-east-1" });
    this.cluster = new EtcdCluster(this, "etcd", {
      members: props.members ?? SEED_MEMBERS,
      pki: props.pkiDirectory ? { directory: props.pkiDirectory } : undefined,
    });
  }
}
