import type { Construct } from "constructs";
import { TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster } from "cdktf-etcd-cluster";

/** A user's stack: the stack the snapshot test below synthesizes, and the one `cdktf deploy` deploys. */
export class EtcdStack extends TerraformStack {
  readonly cluster: EtcdCluster;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "eu-west-1" });
    this.cluster = new EtcdCluster(this, "etcd", {
      members: [
        { name: "etcd_node1", privateIp: "172.16.0.101" },
        { name: "etcd_node2", privateIp: "172.16.0.102" },
        { name: "etcd_node3", privateIp: "172.16.0.103" },
      ],
      clientCidrs: ["10.0.0.0/16"],
    });
  }
}
