import * as path from "node:path";
import type { Construct } from "constructs";
import { LocalBackend, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { EtcdCluster, type EtcdClusterProps, type EtcdMemberProps } from "../../lib";
import { labEtcdInstall } from "../../lib/lab/machine/release-mirror";
import { SEED_MEMBERS } from "./members";

/** Both examples describe one cluster, so they share one PKI (git-ignored, made on first synth). */
export const EXAMPLE_PKI_DIRECTORY = path.resolve(__dirname, "..", "..", ".etcd-pki", "seed-cluster");
/** ... and one Terraform state: deploying add-node after the seed is a later deploy of the same stack. */
export const EXAMPLE_STATE_FILE = path.resolve(__dirname, "..", "..", "terraform.seed-cluster.tfstate");

export interface SeedClusterStackProps {
  /** @default SEED_MEMBERS */
  readonly members?: EtcdMemberProps[];
  /** @default EXAMPLE_PKI_DIRECTORY */
  readonly pkiDirectory?: string;
  /** Where Terraform keeps the stack's state (a local backend). @default EXAMPLE_STATE_FILE */
  readonly stateFile?: string;
  /** Any other EtcdCluster props (install, keyDelivery, tuning, ...). @default none */
  readonly clusterProps?: Partial<EtcdClusterProps>;
}

/** The recipe's cluster: etcd_node1..3 on 172.16.0.101..103 in a VPC of its own. */
export class SeedClusterStack extends TerraformStack {
  readonly cluster: EtcdCluster;

  constructor(scope: Construct, id: string, props: SeedClusterStackProps = {}) {
    super(scope, id);
    new AwsProvider(this, "aws", { region: "us-east-1" });
    new LocalBackend(this, { path: props.stateFile ?? EXAMPLE_STATE_FILE });
    this.cluster = new EtcdCluster(this, "etcd", {
      // `ETCD_LAB=1 npx cdktf synth`: etcd from the lab's mirror, which is all the lab's machines reach.
      ...(process.env.ETCD_LAB === "1" ? { install: labEtcdInstall() } : {}),
      ...props.clusterProps,
      members: props.members ?? SEED_MEMBERS,
      pki: { directory: props.pkiDirectory ?? EXAMPLE_PKI_DIRECTORY },
    });
  }
}
