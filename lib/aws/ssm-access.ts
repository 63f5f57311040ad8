import { Construct } from "constructs";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { DataAwsRegion } from "@cdktf/provider-aws/lib/data-aws-region";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";

export interface SsmAccessProps {
  /** Interface endpoints for members without a route to SSM's public endpoints. */
  readonly vpcEndpoints?: {
    readonly vpcId: string;
    readonly subnetId: string;
    /** The members' security group: the only source the endpoints accept. */
    readonly memberSecurityGroupId: string;
  };
  readonly tags: Record<string, string>;
}

/**
 * What members need of AWS Systems Manager, for key delivery and the membership steps' Run Command:
 * the managed-instance policy's ARN (in the stack's partition), the stack's region for the
 * deployer's AWS CLI, and optionally the interface endpoints SSM's agent talks to.
 */
export class SsmAccess extends Construct {
  /** The region the provider deploys to: where the deployer's Run Command calls go. */
  readonly region: string;
  /** AmazonSSMManagedInstanceCore: the agent may register, receive commands and report them. */
  readonly managedInstancePolicyArn: string;

  constructor(scope: Construct, id: string, props: SsmAccessProps) {
    super(scope, id);
    const region = new DataAwsRegion(this, "region");
    const partition = new DataAwsPartition(this, "partition");
    this.region = region.region;
    this.managedInstancePolicyArn = `arn:${partition.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`;

    const endpoints = props.vpcEndpoints;
    if (!endpoints) return;
    const group = new SecurityGroup(this, "endpoints", {
      namePrefix: "etcd-ssm-endpoints-",
      description: "SSM interface endpoints: HTTPS from the etcd members",
      vpcId: endpoints.vpcId,
      tags: props.tags,
      lifecycle: { createBeforeDestroy: true },
    });
    new VpcSecurityGroupIngressRule(this, "https-from-members", {
      securityGroupId: group.id,
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      referencedSecurityGroupId: endpoints.memberSecurityGroupId,
      description: "SSM agent and AWS CLI on the etcd members",
      tags: props.tags,
    });
    // ssm: Parameter Store and the agent's registration; ec2messages and ssmmessages: Run Command's delivery.
    for (const service of ["ssm", "ec2messages", "ssmmessages"]) {
      new VpcEndpoint(this, service, {
        vpcId: endpoints.vpcId,
        serviceName: `com.amazonaws.${region.region}.${service}`,
        vpcEndpointType: "Interface",
        privateDnsEnabled: true,
        subnetIds: [endpoints.subnetId],
        securityGroupIds: [group.id],
        tags: props.tags,
      });
    }
  }
}
