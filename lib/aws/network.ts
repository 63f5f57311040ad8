import { Construct } from "constructs";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { DataAwsSubnet } from "@cdktf/provider-aws/lib/data-aws-subnet";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import type { NetworkChoice } from "../config/resolved-cluster";

export interface ClusterNetworkProps {
  /** The user's VPC and subnet, or the CIDRs of a VPC and public subnet to create. */
  readonly choice: NetworkChoice;
  readonly tags: Record<string, string>;
}

/**
 * Where the members live: the user's VPC and subnet, or a VPC of the cluster's own so the example
 * deploys alone. The own subnet routes to an internet gateway because members download etcd at boot.
 */
export class ClusterNetwork extends Construct {
  readonly vpcId: string;
  readonly subnetId: string;
  /** True when this construct made the subnet, which then gives members a public IP for egress. */
  readonly ownsSubnet: boolean;
  private readonly subnet?: Subnet;
  private readonly lookedUp = new Map<string, DataAwsSubnet>();

  constructor(scope: Construct, id: string, props: ClusterNetworkProps) {
    super(scope, id);
    const { choice } = props;
    if (choice.kind === "existing") {
      this.vpcId = choice.vpcId;
      this.subnetId = choice.subnetId;
      this.ownsSubnet = false;
      return;
    }
    const vpc = new Vpc(this, "vpc", {
      cidrBlock: choice.vpcCidr,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: props.tags,
    });
    const subnet = new Subnet(this, "subnet", {
      vpcId: vpc.id,
      cidrBlock: choice.subnetCidr,
      availabilityZone: choice.availabilityZone,
      tags: props.tags,
    });
    const gateway = new InternetGateway(this, "gateway", { vpcId: vpc.id, tags: props.tags });
    const routes = new RouteTable(this, "routes", {
      vpcId: vpc.id,
      route: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
      tags: props.tags,
    });
    new RouteTableAssociation(this, "routes-association", { subnetId: subnet.id, routeTableId: routes.id });
    this.vpcId = vpc.id;
    this.subnetId = subnet.id;
    this.ownsSubnet = true;
    this.subnet = subnet;
  }

  /**
   * The availability zone of a subnet members are in, known at plan time: the subnet this
   * construct made, or a lookup of the user's (one per subnet). Never an instance's zone, which a
   * replacement makes unknown, and an unknown zone would replace the data volume too.
   */
  availabilityZoneOf(subnetId: string): string {
    if (this.subnet && subnetId === this.subnetId) return this.subnet.availabilityZone;
    let lookup = this.lookedUp.get(subnetId);
    if (!lookup) {
      lookup = new DataAwsSubnet(this, `subnet-${this.lookedUp.size}`, { id: subnetId });
      this.lookedUp.set(subnetId, lookup);
    }
    return lookup.availabilityZone;
  }
}
